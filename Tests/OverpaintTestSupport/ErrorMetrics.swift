import Testing
import Tensors

/// The error measures parity tests assert on, each named by what it computes. All are
/// infinite when the shapes differ or either side holds a NaN, so a broken result never passes.

/// max |actual - expected| / (|expected| + floor): relative where values are large, absolute
/// (scaled by 1 / floor) near zero.
public func maxRelativeError(_ actual: Tensor, _ expected: Tensor, floor: Float = 1e-2) -> Float {
    guard actual.shape == expected.shape else { return .infinity }
    var worst: Float = 0
    for (a, e) in zip(actual.scalars, expected.scalars) {
        let error = abs(a - e) / (abs(e) + floor)
        if error.isNaN { return .infinity }
        worst = max(worst, error)
    }
    return worst
}

/// max |actual - expected| / max |expected|: the worst error against the reference's peak,
/// the measure for activations whose small values carry no meaning of their own.
public func maxErrorRelativeToPeak(_ actual: Tensor, _ expected: Tensor) -> Float {
    guard actual.shape == expected.shape else { return .infinity }
    var worst: Float = 0
    var peak: Float = 0
    for (a, e) in zip(actual.scalars, expected.scalars) {
        if a.isNaN || e.isNaN { return .infinity }
        worst = max(worst, abs(a - e))
        peak = max(peak, abs(e))
    }
    return worst / max(peak, .leastNormalMagnitude)
}

/// Expects the same shape and every scalar within `absolute + relative * |expected|`, naming
/// the worst scalar when one is not; a NaN fails.
public func expectClose(
    _ actual: Tensor, _ expected: Tensor, relative: Float = 1e-4, absolute: Float = 1e-5,
    _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == expected.shape, "shape \(actual.shape) != \(expected.shape)", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    var worst = (index: 0, excess: -Float.infinity)
    for index in 0..<actual.count {
        let (a, e) = (actual.scalars[index], expected.scalars[index])
        let excess = a.isNaN || e.isNaN ? .infinity : abs(a - e) - (absolute + relative * abs(e))
        if excess > worst.excess { worst = (index, excess) }
    }
    #expect(worst.excess <= 0,
            "\(comment.map { "\($0): " } ?? "")scalar \(worst.index): \(actual.scalars[worst.index]) vs \(expected.scalars[worst.index])",
            sourceLocation: sourceLocation)
}

/// The largest |actual - expected|; infinite on a NaN or a shape mismatch.
public func maxAbsoluteError(_ actual: Tensor, _ expected: Tensor) -> Float {
    guard actual.shape == expected.shape else { return .infinity }
    return zip(actual.scalars, expected.scalars).reduce(0) { worst, pair in
        let error = abs(pair.0 - pair.1)
        return error.isNaN ? .infinity : max(worst, error)
    }
}

/// Expects the same shape and `maxRelativeError` (floor 1e-2) at most `tolerance`.
public func expectRelativeError(
    _ actual: Tensor, _ expected: Tensor, atMost tolerance: Float = 1e-4,
    _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == expected.shape, "shape \(actual.shape) != \(expected.shape)", sourceLocation: sourceLocation)
    let error = maxRelativeError(actual, expected)
    #expect(error <= tolerance, "\(comment.map { "\($0): " } ?? "")relative error \(error)", sourceLocation: sourceLocation)
}

/// Expects the same shape and `maxErrorRelativeToPeak` at most `tolerance`.
public func expectErrorRelativeToPeak(
    _ actual: Tensor, _ expected: Tensor, atMost tolerance: Float = 1e-4,
    _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == expected.shape, "shape \(actual.shape) != \(expected.shape)", sourceLocation: sourceLocation)
    let error = maxErrorRelativeToPeak(actual, expected)
    #expect(error <= tolerance, "\(comment.map { "\($0): " } ?? "")error \(error) of the largest |expected|",
            sourceLocation: sourceLocation)
}
