/// torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"), as diffusers' Upsample2D.
// x: [N, C, H, W] -> [N, C, 2H, 2W]
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "upsampleNearest2x input must be [N, C, H, W], got \(x.shape)")
    let (height, width) = (x.shape[2], x.shape[3])
    let rows = x.shape[0] * x.shape[1] * height
    return Tensor(shape: [x.shape[0], x.shape[1], 2 * height, 2 * width]) { out in
        x.withUnsafeBufferPointer { source in
            guard let sourceBase = source.baseAddress, let outBase = out.baseAddress else { return }
            Parallel.forEachRange(count: rows, minimumBlock: max(1, 16_384 / max(1, width))) { range in
                for row in range {
                    let input = sourceBase + row * width
                    let upper = outBase + row * 4 * width
                    for column in 0..<width {
                        upper[2 * column] = input[column]
                        upper[2 * column + 1] = input[column]
                    }
                    (upper + 2 * width).initialize(from: upper, count: 2 * width)
                }
            }
        }
    }
}
