import Tensors

/// diffusers' Upsample2D with `use_conv=True`: nearest-neighbour upsampling (2x, or to a given
/// size) then a 3x3 convolution.
public struct Upsample2D: Sendable {
    public let conv: Conv2D

    public init(_ parameters: Parameters, channels: Int, outChannels: Int? = nil, kernelSize: Int = 3,
                padding: Int = 1, bias: Bool = true) throws {
        conv = try Conv2D(parameters.scoped("conv"), inChannels: channels, outChannels: outChannels ?? channels,
                          kernelSize: kernelSize, padding: padding, bias: bias)
    }

    /// `outputSize` (height, width) forces the interpolation size, as the UNet does when the
    /// skip connection's size is not exactly twice the input's.
    // x: [N, C, H, W] -> [N, out, 2H, 2W] (or outputSize)
    public func callAsFunction(_ x: Tensor, outputSize: (height: Int, width: Int)? = nil) -> Tensor {
        guard let outputSize, outputSize != (2 * x.shape[2], 2 * x.shape[3]) else {
            return conv(upsampleNearest2x(x))
        }
        return conv(upsampleNearest(x, height: outputSize.height, width: outputSize.width))
    }

    /// An up block's upsampler (`upsamplers.0`), or nil for a block built without one.
    static func ofBlock(_ parameters: Parameters, added: Bool, channels: Int) throws -> Upsample2D? {
        added ? try Upsample2D(parameters.scoped("upsamplers.0"), channels: channels) : nil
    }
}

/// torch's `F.interpolate(mode="nearest", size=...)`: output pixel i reads input floor(i * in / out).
// x: [N, C, H, W] -> [N, C, height, width]
func upsampleNearest(_ x: Tensor, height: Int, width: Int) -> Tensor {
    let (inHeight, inWidth) = (x.shape[2], x.shape[3])
    let planes = x.shape[0] * x.shape[1]
    let rowSource = (0..<height).map { sourceIndex($0, input: inHeight, output: height) }
    let columnSource = (0..<width).map { sourceIndex($0, input: inWidth, output: width) }
    return Tensor(shape: [x.shape[0], x.shape[1], height, width]) { out in
        x.withUnsafeBufferPointer { source in
            guard let sourceBase = source.baseAddress, let outBase = out.baseAddress else { return }
            Parallel.forEach(count: planes) { plane in
                let input = sourceBase + plane * inHeight * inWidth
                let output = outBase + plane * height * width
                for row in 0..<height {
                    let inputRow = input + rowSource[row] * inWidth
                    for column in 0..<width { output[row * width + column] = inputRow[columnSource[column]] }
                }
            }
        }
    }
}

/// torch's nearest source index with scale `input / output` computed in float, as its kernel does.
private func sourceIndex(_ index: Int, input: Int, output: Int) -> Int {
    let scale = Float(input) / Float(output)
    return min(Int((Float(index) * scale).rounded(.down)), input - 1)
}
