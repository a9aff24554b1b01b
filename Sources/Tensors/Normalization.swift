/// torch.nn.functional.group_norm, optionally followed by SiLU in the same pass (as in every
/// ResNet block of the UNet and VAE).
// x: [N, C, *] (e.g. [N, C, H, W]), weight/bias: [C] -> same shape as x
public func groupNorm(
    _ x: consuming Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, fusedSiLU: Bool = false
) -> Tensor {
    let affine = groupNormAffine(x, groups: groups, weight: weight, bias: bias, eps: eps, fusedSiLU: fusedSiLU)
    return affine.applied(to: x)
}

/// What a normalization leaves to be done to each value: `v * scale + shift` with one scale and
/// shift per (image, channel), then SiLU where `silu` says. A convolution given it applies it
/// as it stages its input rows (`conv2d(_:preparedBy:...)`), so the normalized tensor is never
/// written out and read back.
public struct ChannelAffine: Sendable {
    /// [N * C], image n's channel c at n * C + c.
    public let scale: [Float]
    public let shift: [Float]
    public let silu: Bool

    /// `count` values of image `image`'s channel `channel` (of `channels`), mapped in place.
    @inline(__always)
    func apply(_ values: UnsafeMutablePointer<Float>, count: Int, image: Int, channel: Int, channels: Int) {
        let index = image * channels + channel
        let (a, b) = (scale[index], shift[index])
        if silu {
            mapVectors(values, values, count: count) { v in
                let normalized = v * a + b
                return normalized * vectorSigmoid(normalized)
            }
        } else {
            mapVectors(values, values, count: count) { v in v * a + b }
        }
    }

    /// `x` with every value mapped, in place where `x` is not shared.
    // x: [N, C, *] -> same shape
    public func applied(to x: consuming Tensor) -> Tensor {
        var y = consume x
        let (batch, channels) = (y.shape[0], y.shape[1])
        precondition(scale.count == batch * channels, "ChannelAffine of \(scale.count) channels applied to \(y.shape)")
        let plane = y.count / max(1, batch * channels)
        y.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            Parallel.forEachRange(count: batch * channels, minimumBlock: max(1, 65_536 / max(1, plane))) { planes in
                for index in planes {
                    apply(base + index * plane, count: plane, image: index / channels, channel: index % channels,
                          channels: channels)
                }
            }
        }
        return y
    }
}

/// group_norm's statistics as a per-channel affine map (see `ChannelAffine`), without applying it.
///
/// Statistics are two-pass (mean, then centred sum of squares) with per-channel partial
/// sums in Double, so 40,000-element groups keep f32 accuracy.
// x: [N, C, *], weight/bias: [C] -> scale and shift for [N, C]
public func groupNormAffine(
    _ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, fusedSiLU: Bool = false
) -> ChannelAffine {
    precondition(x.rank >= 2, "groupNorm input must be [N, C, ...], got \(x.shape)")
    let (batch, channels) = (x.shape[0], x.shape[1])
    precondition(groups > 0 && channels % groups == 0, "groupNorm: \(channels) channels do not split into \(groups) groups")
    if let weight { precondition(weight.shape == [channels], "groupNorm weight \(weight.shape) is not [\(channels)]") }
    if let bias { precondition(bias.shape == [channels], "groupNorm bias \(bias.shape) is not [\(channels)]") }
    let plane = x.count / max(1, batch * channels)
    let channelsPerGroup = channels / groups
    let gamma = weight?.scalars ?? [Float](repeating: 1, count: channels)
    let beta = bias?.scalars ?? [Float](repeating: 0, count: channels)
    var scale = [Float](repeating: 0, count: batch * channels)
    var shift = [Float](repeating: 0, count: batch * channels)
    x.withUnsafeBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        scale.withUnsafeMutableBufferPointer { scales in
            shift.withUnsafeMutableBufferPointer { shifts in
                guard let scales = scales.baseAddress, let shifts = shifts.baseAddress else { return }
                Parallel.forEach(count: batch * groups) { block in
                    let firstChannel = (block % groups) * channelsPerGroup
                    let start = base + block * channelsPerGroup * plane
                    let (mean, variance) = meanAndVariance(start, count: channelsPerGroup * plane, chunk: plane)
                    let inverseDeviation = 1 / (variance + eps).squareRoot()
                    for offset in 0..<channelsPerGroup {
                        let index = block * channelsPerGroup + offset
                        scales[index] = inverseDeviation * gamma[firstChannel + offset]
                        shifts[index] = beta[firstChannel + offset] - mean * scales[index]
                    }
                }
            }
        }
    }
    return ChannelAffine(scale: scale, shift: shift, silu: fusedSiLU)
}

/// torch.nn.functional.layer_norm over the last dimension.
// x: [..., D], weight/bias: [D] -> [..., D]
public func layerNorm(_ x: consuming Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    var y = consume x
    guard let width = y.shape.last, width > 0 else { return y }
    if let weight { precondition(weight.shape == [width], "layerNorm weight \(weight.shape) is not [\(width)]") }
    if let bias { precondition(bias.shape == [width], "layerNorm bias \(bias.shape) is not [\(width)]") }
    let rows = y.count / width
    let gamma = weight?.scalars ?? [Float](repeating: 1, count: width)
    let beta = bias?.scalars ?? [Float](repeating: 0, count: width)
    y.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        gamma.withUnsafeBufferPointer { gammaBuffer in
            beta.withUnsafeBufferPointer { betaBuffer in
                guard let gammaBase = gammaBuffer.baseAddress, let betaBase = betaBuffer.baseAddress else { return }
                Parallel.forEachRange(count: rows, minimumBlock: max(1, 16_384 / width)) { range in
                    for row in range {
                        let start = base + row * width
                        let (mean, variance) = meanAndVariance(start, count: width, chunk: width)
                        let inverseDeviation = 1 / (variance + eps).squareRoot()
                        normalizeRow(start, count: width, mean: mean, scale: inverseDeviation,
                                     gamma: gammaBase, beta: betaBase)
                    }
                }
            }
        }
    }
    return y
}

/// Mean and biased variance of `count` floats, summed in chunks of `chunk` into Double.
private func meanAndVariance(_ start: UnsafePointer<Float>, count: Int, chunk: Int) -> (Float, Float) {
    var total = 0.0
    for offset in stride(from: 0, to: count, by: chunk) {
        total += Double(vectorSum(start + offset, count: min(chunk, count - offset)))
    }
    let mean = Float(total / Double(count))
    var squares = 0.0
    for offset in stride(from: 0, to: count, by: chunk) {
        squares += Double(centredSquareSum(start + offset, count: min(chunk, count - offset), mean: mean))
    }
    return (mean, Float(squares / Double(count)))
}

@inline(__always)
private func centredSquareSum(_ source: UnsafePointer<Float>, count: Int, mean: Float) -> Float {
    let centre = FloatVector(repeating: mean)
    var lanes = FloatVector()
    var index = 0
    while index + vectorWidth <= count {
        let d = UnsafeRawPointer(source + index).loadUnaligned(as: FloatVector.self) - centre
        lanes += d * d
        index += vectorWidth
    }
    var total = lanes.sum()
    while index < count {
        let d = source[index] - mean
        total += d * d
        index += 1
    }
    return total
}

/// row = (row - mean) * scale * gamma + beta, elementwise.
@inline(__always)
private func normalizeRow(
    _ row: UnsafeMutablePointer<Float>, count: Int, mean: Float, scale: Float,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
) {
    let centre = FloatVector(repeating: mean)
    var index = 0
    while index + vectorWidth <= count {
        let raw = UnsafeMutableRawPointer(row + index)
        let g = UnsafeRawPointer(gamma + index).loadUnaligned(as: FloatVector.self)
        let b = UnsafeRawPointer(beta + index).loadUnaligned(as: FloatVector.self)
        let v = raw.loadUnaligned(as: FloatVector.self)
        raw.storeBytes(of: (v - centre) * scale * g + b, as: FloatVector.self)
        index += vectorWidth
    }
    while index < count {
        row[index] = (row[index] - mean) * scale * gamma[index] + beta[index]
        index += 1
    }
}
