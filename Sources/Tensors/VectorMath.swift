/// Vectorised transcendental functions for the elementwise ops.
///
/// Glibc's scalar `expf`/`erff` would dominate softmax and GEGLU at Stable Diffusion
/// sizes (hundreds of millions of calls per UNet step), so these run 16 lanes at a time.
///
/// The standard library's generic `clamped`, `pointwiseMin/Max`, `rounded` and float-to-int
/// SIMD conversions compile to per-lane calls (~100x slower than arithmetic, measured), so
/// these functions use only arithmetic, comparisons with `replacing(with:where:)`, and bit casts.
typealias FloatVector = SIMD16<Float>

let vectorWidth = FloatVector.scalarCount

/// e^x to about 2 ulp (Cephes `expf`: range reduction by ln 2, degree-6 polynomial);
/// inputs below -87.3 give ~1e-38 rather than 0, above 88.4 give ~2e38 rather than infinity.
@inline(__always)
func vectorExp(_ input: FloatVector) -> FloatVector {
    let x = clamp(input, -87.33654, 88.37626)
    // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
    let roundingShift: Float = 12_582_912
    let shifted = x * 1.44269504088896341 + roundingShift
    let n = shifted - roundingShift
    // ln 2 split in two so that n * ln2High is exact.
    let r = x - n * 0.693359375 - n * -2.12194440e-4
    let r2 = r * r
    var p = r * 1.9875691500e-4 + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * r2 + r + 1
    return p * powerOfTwo(roundedBy: shifted)
}

/// 2^x for x <= 0 to within 8.6e-8 relative: the softmax's exponent once log2 e is folded
/// into the scores' scale, which spares Cephes' range reduction by ln 2 and the upper clamp
/// (over rows of scores 1.69 -> 1.18 ns per float against `vectorExp`, one thread, SSE). Only
/// the polynomial's own error is added: the argument is one rounding away from the exact
/// product, as e^x's is. Inputs below -126 give 2^-126 rather than 0.
@inline(__always)
func vectorExp2OfNonPositive(_ input: FloatVector) -> FloatVector {
    let x = input.replacing(with: -126, where: input .< -126)
    // As in vectorExp: adding 1.5 * 2^23 leaves round(x) in the low mantissa bits.
    let roundingShift: Float = 12_582_912
    let shifted = x + roundingShift
    let fraction = x - (shifted - roundingShift)
    // 2^f on [-0.5, 0.5], a relative-error fit of degree 6 (9.6e-8 in f32 Horner).
    var p = fraction * 1.5345770e-4 + 1.3399931e-3
    p = p * fraction + 9.6184891e-3
    p = p * fraction + 5.5503286e-2
    p = p * fraction + 2.4022646e-1
    p = p * fraction + 6.9314718e-1
    p = p * fraction + 1
    return p * powerOfTwo(roundedBy: shifted)
}

/// 2^n from n + 1.5 * 2^23 as vectorExp and vectorExp2OfNonPositive round it: n sits in the
/// low mantissa bits, so rebiasing them and shifting them into the exponent field gives 2^n.
@inline(__always)
private func powerOfTwo(roundedBy shifted: FloatVector) -> FloatVector {
    let exponentBias = 127 &- unsafeBitCast(Float(12_582_912), to: Int32.self)
    let exponentBits = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &+ exponentBias) &<< 23
    return unsafeBitCast(exponentBits, to: FloatVector.self)
}

/// Lanes limited to [lower, upper]; NaN stays NaN.
@inline(__always)
func clamp(_ x: FloatVector, _ lower: Float, _ upper: Float) -> FloatVector {
    x.replacing(with: lower, where: x .< lower).replacing(with: upper, where: x .> upper)
}

/// 1 / (1 + e^-x).
@inline(__always)
func vectorSigmoid(_ x: FloatVector) -> FloatVector {
    1 / (1 + vectorExp(-x))
}

/// erf(x) to about 5e-7 absolute: a rational approximation on [-4, 4] (the form Eigen's
/// `generic_fast_erf_float` uses); beyond that erf is +-1 in single precision.
@inline(__always)
func vectorErf(_ input: FloatVector) -> FloatVector {
    let x = clamp(input, -4, 4)
    let x2 = x * x
    var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    p = p * x
    var q = x2 * -1.45660718464996e-05 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return p / q
}

/// tanh(x) = 1 - 2 / (e^{2x} + 1), exact enough in f32 for GELU's tanh form.
@inline(__always)
func vectorTanh(_ x: FloatVector) -> FloatVector {
    1 - 2 / (vectorExp(x + x) + 1)
}

/// Applies `transform` to `count` floats, 16 at a time (a padded vector for the tail);
/// `source` and `destination` may be the same buffer.
@inline(__always)
func mapVectors(
    _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, count: Int,
    _ transform: (FloatVector) -> FloatVector
) {
    var index = 0
    while index + vectorWidth <= count {
        let value = UnsafeRawPointer(source + index).loadUnaligned(as: FloatVector.self)
        UnsafeMutableRawPointer(destination + index).storeBytes(of: transform(value), as: FloatVector.self)
        index += vectorWidth
    }
    guard index < count else { return }
    var tail = FloatVector()
    for lane in 0..<(count - index) { tail[lane] = source[index + lane] }
    let result = transform(tail)
    for lane in 0..<(count - index) { destination[index + lane] = result[lane] }
}

/// Applies `transform` to pairs of floats from two buffers, 16 at a time.
@inline(__always)
func mapVectorPairs(
    _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
    count: Int, _ transform: (FloatVector, FloatVector) -> FloatVector
) {
    var index = 0
    while index + vectorWidth <= count {
        let a = UnsafeRawPointer(first + index).loadUnaligned(as: FloatVector.self)
        let b = UnsafeRawPointer(second + index).loadUnaligned(as: FloatVector.self)
        UnsafeMutableRawPointer(destination + index).storeBytes(of: transform(a, b), as: FloatVector.self)
        index += vectorWidth
    }
    guard index < count else { return }
    var tailA = FloatVector()
    var tailB = FloatVector()
    for lane in 0..<(count - index) {
        tailA[lane] = first[index + lane]
        tailB[lane] = second[index + lane]
    }
    let result = transform(tailA, tailB)
    for lane in 0..<(count - index) { destination[index + lane] = result[lane] }
}

/// Sum of `count` floats with 16 running lanes (pairwise-ish, so long rows keep precision).
@inline(__always)
func vectorSum(_ source: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = FloatVector()
    var index = 0
    while index + vectorWidth <= count {
        lanes += UnsafeRawPointer(source + index).loadUnaligned(as: FloatVector.self)
        index += vectorWidth
    }
    var total = lanes.sum()
    while index < count {
        total += source[index]
        index += 1
    }
    return total
}

/// Largest of `count` floats (at least one).
@inline(__always)
func vectorMax(_ source: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = FloatVector(repeating: -.infinity)
    var index = 0
    while index + vectorWidth <= count {
        let value = UnsafeRawPointer(source + index).loadUnaligned(as: FloatVector.self)
        lanes = lanes.replacing(with: value, where: value .> lanes)
        index += vectorWidth
    }
    var largest = lanes.max()
    while index < count {
        largest = Swift.max(largest, source[index])
        index += 1
    }
    return largest
}
