/// Ops that move scalars without arithmetic: permute, concatenate, slice.
extension Tensor {
    /// torch.permute, materialised: output axis i is input axis `axes[i]`.
    /// NCHW -> N(HW)C is `permuted([0, 2, 3, 1])` (a cache-blocked batched transpose).
    // x: [d0, d1, ...] -> [d_axes[0], d_axes[1], ...]
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "permutation \(axes) does not fit rank \(rank)")
        let sourceStrides = strides
        let outShape = axes.map { shape[$0] }
        let walk = PermutationWalk(lengths: outShape, sourceStrides: axes.map { sourceStrides[$0] })
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { source in
                guard let sourceBase = source.baseAddress, let outBase = out.baseAddress else { return }
                walk.copy(from: sourceBase, to: outBase)
            }
        }
    }

    /// Swaps two axes (torch.transpose), materialised.
    // x: [..., a, ..., b, ...] -> [..., b, ..., a, ...]
    public func transposed(_ first: Int, _ second: Int) -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(first, second)
        return permuted(axes)
    }

    /// torch.cat along `axis`; all other axes must agree.
    // tensors: [..., d_i, ...] -> [..., sum d_i, ...]
    public static func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        guard let first = tensors.first else { preconditionFailure("concatenate needs at least one tensor") }
        for tensor in tensors {
            precondition(tensor.rank == first.rank && axis < first.rank
                         && tensor.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first.shape[$0.offset] },
                         "cannot concatenate \(tensor.shape) with \(first.shape) along axis \(axis)")
        }
        let outer = first.shape[..<axis].reduce(1, *)
        let blocks = tensors.map { $0.shape[axis...].reduce(1, *) }
        let outBlock = blocks.reduce(0, +)
        var outShape = first.shape
        outShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        return Tensor(shape: outShape) { out in
            guard let outBase = out.baseAddress else { return }
            var offset = 0
            for (tensor, block) in zip(tensors, blocks) {
                tensor.withUnsafeBufferPointer { source in
                    guard let sourceBase = source.baseAddress else { return }
                    copyBlocks(from: sourceBase, sourceStride: block, to: outBase + offset, targetStride: outBlock,
                               blockLength: block, count: outer)
                }
                offset += block
            }
        }
    }

    /// torch.narrow / `x[..., range, ...]` along `axis`, materialised.
    // x: [..., d, ...] -> [..., range.count, ...]
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(axis < rank && range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "slice \(range) out of axis \(axis) of \(shape)")
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = range.count
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { source in
                guard let sourceBase = source.baseAddress, let outBase = out.baseAddress else { return }
                copyBlocks(from: sourceBase + range.lowerBound * inner, sourceStride: shape[axis] * inner,
                           to: outBase, targetStride: range.count * inner, blockLength: range.count * inner,
                           count: outer)
            }
        }
    }

    /// torch.chunk: pieces of ceil(d / chunks) along `axis`, the last possibly smaller.
    // x: [..., d, ...] -> chunks x [..., ceil(d / chunks), ...]
    public func chunked(_ chunks: Int, axis: Int) -> [Tensor] {
        precondition(chunks > 0 && axis < rank, "cannot chunk \(shape) into \(chunks) along axis \(axis)")
        let length = shape[axis]
        let size = max(1, (length + chunks - 1) / chunks)
        return stride(from: 0, to: length, by: size).map { start in
            sliced(axis: axis, start..<min(length, start + size))
        }
    }
}

/// Copies `count` blocks of `blockLength` scalars between strided positions, across threads.
private func copyBlocks(
    from source: UnsafePointer<Float>, sourceStride: Int, to target: UnsafeMutablePointer<Float>, targetStride: Int,
    blockLength: Int, count: Int
) {
    Parallel.forEachRange(count: count, minimumBlock: max(1, 65_536 / max(1, blockLength))) { range in
        for block in range {
            (target + block * targetStride).initialize(from: source + block * sourceStride, count: blockLength)
        }
    }
}

/// A permuted copy, with output axes merged wherever the source stays contiguous, so most
/// permutations become row copies or batched 2-D transposes.
private struct PermutationWalk {
    private var axes: [(length: Int, stride: Int)] = []

    init(lengths: [Int], sourceStrides: [Int]) {
        for (length, stride) in zip(lengths, sourceStrides) where length != 1 {
            if let last = axes.last, last.stride == stride * length {
                axes[axes.count - 1] = (last.length * length, stride)
            } else {
                axes.append((length, stride))
            }
        }
    }

    func copy(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>) {
        guard let inner = axes.last else {
            target.initialize(to: source[0])
            return
        }
        if inner.stride == 1 {
            forEachOuter(dropping: 1) { offset, index in
                (target + index * inner.length).initialize(from: source + offset, count: inner.length)
            }
        } else if axes.count >= 2, axes[axes.count - 2].stride == 1, inner.stride == axes[axes.count - 2].length {
            // The source block is [inner.length, outRows]; the target block its transpose.
            let outRows = axes[axes.count - 2].length
            forEachOuter(dropping: 2) { offset, index in
                transposeBlocked(source + offset, rows: inner.length, columns: outRows,
                                 into: target + index * outRows * inner.length)
            }
        } else {
            forEachOuter(dropping: 1) { offset, index in
                let row = target + index * inner.length
                for element in 0..<inner.length { row[element] = source[offset + element * inner.stride] }
            }
        }
    }

    /// Calls `body(sourceOffset, outerIndex)` for every index of all but the last `dropped` axes.
    private func forEachOuter(dropping dropped: Int, _ body: (Int, Int) -> Void) {
        let outer = Array(axes.dropLast(dropped))
        let innerSize = axes.suffix(dropped).reduce(1) { $0 * $1.length }
        let count = outer.reduce(1) { $0 * $1.length }
        Parallel.forEachRange(count: count, minimumBlock: max(1, 65_536 / innerSize)) { range in
            for index in range {
                var (offset, rest) = (0, index)
                for axis in outer.reversed() {
                    offset += (rest % axis.length) * axis.stride
                    rest /= axis.length
                }
                body(offset, index)
            }
        }
    }
}

/// target[c][r] = source[r][c] for a rows x columns source, in 32 x 32 tiles so both sides
/// stay in cache.
private func transposeBlocked(
    _ source: UnsafePointer<Float>, rows: Int, columns: Int, into target: UnsafeMutablePointer<Float>
) {
    let tile = 32
    for rowStart in stride(from: 0, to: rows, by: tile) {
        let rowEnd = min(rows, rowStart + tile)
        for columnStart in stride(from: 0, to: columns, by: tile) {
            let columnEnd = min(columns, columnStart + tile)
            for row in rowStart..<rowEnd {
                for column in columnStart..<columnEnd {
                    target[column * rows + row] = source[row * columns + column]
                }
            }
        }
    }
}
