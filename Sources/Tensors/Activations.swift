/// How `gelu` evaluates the Gaussian CDF, as torch's `approximate=` argument.
public enum GELUApproximation: Sendable {
    /// 0.5 x (1 + erf(x / sqrt 2)), torch's `approximate="none"`.
    case none
    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), torch's `approximate="tanh"`.
    case tanh
}

/// x * sigmoid(x). Reuses `x`'s storage when the caller gives it up.
// x: any shape -> same shape
public func silu(_ x: consuming Tensor) -> Tensor {
    var y = consume x
    y.mapInPlace { v in v * vectorSigmoid(v) }
    return y
}

/// torch.nn.functional.gelu.
// x: any shape -> same shape
public func gelu(_ x: consuming Tensor, approximation: GELUApproximation = .none) -> Tensor {
    var y = consume x
    switch approximation {
    case .none: y.mapInPlace(geluErf)
    case .tanh: y.mapInPlace(geluTanh)
    }
    return y
}

/// CLIP's quick_gelu: x * sigmoid(1.702 x).
// x: any shape -> same shape
public func quickGELU(_ x: consuming Tensor) -> Tensor {
    var y = consume x
    y.mapInPlace { v in v * vectorSigmoid(v * 1.702) }
    return y
}

/// The gating half of diffusers' GEGLU: `hidden, gate = x.chunk(2, dim=-1); hidden * gelu(gate)`
/// (the projection before it is a plain `linear`).
// x: [..., 2F] -> [..., F]
public func geglu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
    guard let doubled = x.shape.last, doubled % 2 == 0 else {
        preconditionFailure("geglu needs an even last dimension, got \(x.shape)")
    }
    let width = doubled / 2
    let rows = x.count / doubled
    let activation = approximation == .none ? geluErf : geluTanh
    return Tensor(shape: Array(x.shape.dropLast()) + [width]) { out in
        guard let outBase = out.baseAddress else { return }
        x.withUnsafeBufferPointer { input in
            guard let inBase = input.baseAddress else { return }
            Parallel.forEachRange(count: rows, minimumBlock: max(1, 16_384 / width)) { range in
                for row in range {
                    let hidden = inBase + row * doubled
                    mapVectorPairs(hidden, hidden + width, outBase + row * width, count: width) { h, gate in
                        h * activation(gate)
                    }
                }
            }
        }
    }
}

/// diffusers' GEGLU module whole: `hidden, gate = linear(x, weight, bias).chunk(2, dim=-1);
/// hidden * gelu(gate)`, a block of rows at a time, so the doubled projection only ever exists
/// as one block per thread (in cache) instead of a tensor twice the output's size. Weights too
/// large for one widened panel (see `WeightTensor.panelBudgetBytes`) take the two steps.
// x: [..., in], weight: [2F, in], bias: [2F] -> [..., F]
public func geglu(
    projecting x: Tensor, weight: WeightTensor, bias: Tensor?, approximation: GELUApproximation = .none
) -> Tensor {
    let (doubled, inFeatures) = (weight.shape[0], weight.shape[1])
    precondition(doubled % 2 == 0, "geglu needs an even projection width, got \(weight.shape)")
    guard weight.isOnePanel else {
        return geglu(linear(x, weight: weight, bias: bias), approximation: approximation)
    }
    precondition(x.shape.last == inFeatures, "geglu input \(x.shape) does not end in \(inFeatures)")
    let (width, rows) = (doubled / 2, x.count / inFeatures)
    // At least the reduced-precision kernels' row floor, which SDXL's 10240-wide projection
    // would otherwise fall under (8 MB is 204 of its rows).
    let blockRows = max(GEMMBackend.halfPrecisionMinimumRows, gegluBlockBytes / (doubled * MemoryLayout<Float>.size))
    let activation = approximation == .none ? geluErf : geluTanh
    let biasValues = bias?.scalars ?? [Float](repeating: 0, count: doubled)
    let backend = GEMMBackend.active
    return Tensor(shape: Array(x.shape.dropLast()) + [width]) { out in
        guard let outBase = out.baseAddress else { return }
        x.withUnsafeBufferPointer { xs in
            biasValues.withUnsafeBufferPointer { biasBuffer in
                guard let inBase = xs.baseAddress, let biasBase = biasBuffer.baseAddress else { return }
                weight.forEachLinearPanel(backend: backend, rows: blockRows) { _, product in
                    let blocks = (rows + blockRows - 1) / blockRows
                    Parallel.forEachRange(count: blocks, minimumBlock: 1) { range in
                        let projected = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * doubled)
                        defer { projected.deallocate() }
                        for block in range {
                            let first = block * blockRows
                            let count = min(blockRows, rows - first)
                            for row in 0..<count { (projected + row * doubled).update(from: biasBase, count: doubled) }
                            product(count, inBase + first * inFeatures, projected, doubled)
                            for row in 0..<count {
                                let hidden = projected + row * doubled
                                mapVectorPairs(hidden, hidden + width, outBase + (first + row) * width, count: width) { h, gate in
                                    h * activation(gate)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Bytes of one thread's projected block in `geglu(projecting:...)`. Each block's product packs
/// the weight anew, so a block holds hundreds of rows (800 of SD 1.5's 2560-wide projection):
/// with 1 MB blocks (100 rows) the UNet ran 3% slower than projecting all rows at once; with
/// 8 MB as fast (0.99, 5 alternating runs, 260 MB L3) and 25 MB lower at its peak.
private let gegluBlockBytes = 8 << 20

/// Numerically stable softmax over the last dimension (the row maximum is subtracted first).
// x: [..., N] -> [..., N]
public func softmax(_ x: consuming Tensor) -> Tensor {
    var y = consume x
    guard let width = y.shape.last, width > 0 else { return y }
    let rows = y.count / width
    y.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        Parallel.forEachRange(count: rows, minimumBlock: max(1, 16_384 / width)) { range in
            for row in range {
                let start = base + row * width
                let total = exponentiateShifted(start, count: width)
                let scale = 1 / total
                mapVectors(start, start, count: width) { $0 * scale }
            }
        }
    }
    return y
}

/// Replaces a row by exp(x - max(row)) and returns the row's new sum (at least 1).
@inline(__always)
func exponentiateShifted(_ row: UnsafeMutablePointer<Float>, count: Int) -> Float {
    exponentiate(row, count: count, shiftedBy: vectorMax(row, count: count), by: vectorExp)
}

/// Replaces a row by power(x - shift) (e^x or 2^x) and returns the row's new sum.
@inline(__always)
func exponentiate(
    _ row: UnsafeMutablePointer<Float>, count: Int, shiftedBy shiftValue: Float,
    by power: (FloatVector) -> FloatVector
) -> Float {
    let shift = FloatVector(repeating: shiftValue)
    var lanes = FloatVector()
    var index = 0
    while index + vectorWidth <= count {
        let raw = UnsafeMutableRawPointer(row + index)
        let value = power(raw.loadUnaligned(as: FloatVector.self) - shift)
        raw.storeBytes(of: value, as: FloatVector.self)
        lanes += value
        index += vectorWidth
    }
    var total = lanes.sum()
    if index < count {
        var tail = FloatVector(repeating: -.infinity)
        for lane in 0..<(count - index) { tail[lane] = row[index + lane] }
        let value = power(tail - shift)
        for lane in 0..<(count - index) {
            row[index + lane] = value[lane]
            total += value[lane]
        }
    }
    return total
}

@inline(__always)
private func geluErf(_ v: FloatVector) -> FloatVector {
    0.5 * v * (1 + vectorErf(v * 0.70710678118654752))
}

@inline(__always)
private func geluTanh(_ v: FloatVector) -> FloatVector {
    0.5 * v * (1 + vectorTanh(0.79788456080286536 * (v + 0.044715 * v * v * v)))
}

extension Tensor {
    /// Applies a vector function to every scalar in place, across threads.
    @inline(__always)
    mutating func mapInPlace(_ transform: (FloatVector) -> FloatVector) {
        let count = self.count
        withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            Parallel.forEachRange(count: count) { range in
                mapVectors(base + range.lowerBound, base + range.lowerBound, count: range.count, transform)
            }
        }
    }
}
