import Foundation

/// A random source that reproduces PyTorch's CPU generator.
///
/// This implementation matches `torch.Generator("cpu").manual_seed(seed)` followed by
/// `torch.randn(shape, generator: g)` and `torch.rand(shape, generator: g)` in float32,
/// call for call: the same seed and the same sequence of calls give the same numbers, so a
/// pipeline that draws its noise in diffusers' order reproduces diffusers' pictures.
///
/// What torch does (ATen `CPUGeneratorImpl`, `cpu/DistributionTemplates.h`,
/// `core/TransformationHelper.h`):
/// - The engine is MT19937 seeded with the low 32 bits of the 64-bit seed.
/// - A uniform float is `(random32 & (2^24 - 1)) * 2^-24`.
/// - `randn` of 16 or more elements fills the tensor with uniform floats, then applies
///   Box-Muller to each block of 16 (`u1 = 1 - data[j]`, `u2 = data[j + 8]`, `j < 8`); when
///   the count is not a multiple of 16 the last 16 elements are redrawn from fresh uniforms
///   and transformed again. On x86 torch runs this through `avx_mathfun.h` (Cephes
///   polynomials for `log` and `sincos`, with the compiler's fused multiply-adds), which is
///   reproduced here bit for bit.
/// - `randn` of fewer than 16 elements draws each value with `normal_distribution<double>`
///   from two 53-bit uniforms (each built from two 32-bit draws), and caches the second
///   Box-Muller value in the generator for the next scalar draw, across calls.
///
/// Limitations:
/// - The vectorised `randn` reproduces torch's AVX2 kernel (what x86-64 CPUs run). Torch
///   builds without AVX2 (e.g. on ARM) use libm `log`/`cos`/`sin` there instead and differ
///   in the last bit or so (below 1e-6).
/// - Only float32 `randn` and `rand` are provided, with mean 0 and standard deviation 1.
public struct TorchGenerator: Sendable {
    private var engine: MersenneTwister
    /// The second value of the last scalar Box-Muller pair, as torch's
    /// `next_double_normal_sample`.
    private var cachedNormal: Double?

    /// The seed as given; torch's engine uses its low 32 bits.
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        self.engine = MersenneTwister(seed: UInt32(truncatingIfNeeded: seed))
        self.cachedNormal = nil
    }

    /// Standard normal samples, as `torch.randn(shape, generator: g)`.
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        let scalars = count >= 16 ? vectorisedNormals(count: count) : scalarNormals(count: count)
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Uniform samples in [0, 1), as `torch.rand(shape, generator: g)`.
    public mutating func rand(_ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        var scalars = [Float](repeating: 0, count: count)
        for index in 0..<count { scalars[index] = nextUniformFloat() }
        return Tensor(shape: shape, scalars: scalars)
    }

    // MARK: - Uniform draws

    private mutating func nextUniformFloat() -> Float {
        // 24 random bits scaled into [0, 1): exact in a Float.
        Float(engine.next() & 0xFF_FFFF) * 0x1p-24
    }

    private mutating func nextUniformDouble() -> Double {
        // torch's random64() puts the first 32-bit draw in the high half.
        let high = UInt64(engine.next())
        let low = UInt64(engine.next())
        let bits = (high << 32) | low
        return Double(bits & ((1 << 53) - 1)) * 0x1p-53
    }

    // MARK: - Scalar path (fewer than 16 elements)

    private mutating func scalarNormals(count: Int) -> [Float] {
        var result = [Float](repeating: 0, count: count)
        for index in 0..<count { result[index] = Float(nextScalarNormal()) }
        return result
    }

    private mutating func nextScalarNormal() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = nextUniformDouble()
        let u2 = nextUniformDouble()
        let radius = (-2.0 * Foundation.log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = radius * Foundation.sin(theta)
        return radius * Foundation.cos(theta)
    }

    // MARK: - Vectorised path (16 elements or more)

    private mutating func vectorisedNormals(count: Int) -> [Float] {
        var data = [Float](repeating: 0, count: count)
        for index in 0..<count { data[index] = nextUniformFloat() }
        data.withUnsafeMutableBufferPointer { buffer in
            var start = 0
            while start + 16 <= count {
                Self.boxMuller16(buffer, at: start)
                start += 16
            }
            if count % 16 != 0 {
                // torch redraws the last 16 values rather than transforming a partial block.
                let tail = count - 16
                for index in tail..<count { buffer[index] = nextUniformFloat() }
                Self.boxMuller16(buffer, at: tail)
            }
        }
        return data
    }

    /// `normal_fill_16_AVX2`: eight Box-Muller pairs from 16 uniforms, in place.
    private static func boxMuller16(_ data: UnsafeMutableBufferPointer<Float>, at start: Int) {
        let twoPi = Float(2.0 * Double.pi)
        for lane in 0..<8 {
            let u1 = 1 - data[start + lane]
            let u2 = data[start + lane + 8]
            let radius = (Float(-2) * CephesFloat.log(u1)).squareRoot()
            let (sine, cosine) = CephesFloat.sincos(twoPi * u2)
            data[start + lane] = radius * cosine
            data[start + lane + 8] = radius * sine
        }
    }
}

/// The 32-bit Mersenne Twister (MT19937), as `at::mt19937`.
struct MersenneTwister: Sendable {
    private var state: [UInt32]
    private var position: Int

    init(seed: UInt32) {
        var state = [UInt32](repeating: 0, count: 624)
        state[0] = seed
        for index in 1..<624 {
            let previous = state[index - 1]
            state[index] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(index)
        }
        self.state = state
        self.position = 624
    }

    mutating func next() -> UInt32 {
        if position >= 624 { twist() }
        var value = state[position]
        position += 1
        value ^= value >> 11
        value ^= (value << 7) & 0x9D2C_5680
        value ^= (value << 15) & 0xEFC6_0000
        value ^= value >> 18
        return value
    }

    private mutating func twist() {
        for index in 0..<624 {
            let mixed = (state[index] & 0x8000_0000) | (state[(index + 1) % 624] & 0x7FFF_FFFF)
            var next = state[(index + 397) % 624] ^ (mixed >> 1)
            if mixed & 1 != 0 { next ^= 0x9908_B0DF }
            state[index] = next
        }
        position = 0
    }
}

/// Scalar transcriptions of `log256_ps` and `sincos256_ps` from torch's `avx_mathfun.h`
/// (Cephes single-precision polynomials), with fused multiply-adds exactly where torch's
/// compiled x86 kernel has them, so results agree bit for bit.
enum CephesFloat {
    private static func fma(_ a: Float, _ b: Float, _ c: Float) -> Float {
        c.addingProduct(a, b)
    }

    /// Natural logarithm for positive normal inputs (the uniforms here are in (0, 1]).
    static func log(_ input: Float) -> Float {
        let x0 = max(input, Float(bitPattern: 0x0080_0000))
        let exponentBits = Int32(bitPattern: x0.bitPattern >> 23) - 0x7F
        // Keep the mantissa, with the exponent of 0.5: x in [0.5, 1).
        var x = Float(bitPattern: (x0.bitPattern & ~0x7F80_0000) | Float(0.5).bitPattern)
        var e = Float(exponentBits) + 1
        let below = x < Float(0.707106781186547524)
        let tmp: Float = below ? x : 0
        x -= 1
        e -= below ? 1 : 0
        x += tmp
        let z = x * x
        let coefficients: [Float] = [
            -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
            -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1,
        ]
        var y = Float(7.0376836292E-2)
        for coefficient in coefficients { y = fma(y, x, coefficient) }
        y *= x
        y = fma(y, z, e * Float(-2.12194440e-4))
        y = fma(-z, 0.5, y)
        let result = fma(e, Float(0.693359375), x + y)
        return input <= 0 ? .nan : result
    }

    /// Sine and cosine together, with Cephes' octant reduction.
    static func sincos(_ input: Float) -> (sin: Float, cos: Float) {
        var signSin = input.bitPattern & 0x8000_0000
        var x = abs(input)
        var octant = Int32(x * Float(1.27323954473516))
        octant = (octant + 1) & ~1
        let y = Float(octant)
        let swapSignSin = UInt32(bitPattern: (octant & 4) << 29)
        let usePolynomialForSin = (octant & 2) == 0
        x = fma(y, Float(-0.78515625), x)
        x = fma(y, Float(-2.4187564849853515625e-4), x)
        x = fma(y, Float(-3.77489497744594108e-8), x)
        let signCos = UInt32(bitPattern: (~(octant - 2) & 4) << 29)
        signSin ^= swapSignSin

        let z = x * x
        var cosine = fma(Float(2.443315711809948E-005), z, Float(-1.388731625493765E-003))
        cosine = fma(cosine, z, Float(4.166664568298827E-002))
        cosine = z * cosine
        cosine = fma(cosine, z, -(z * 0.5))
        cosine += 1

        var sine = fma(Float(-1.9515295891E-4), z, Float(8.3321608736E-3))
        sine = fma(sine, z, Float(-1.6666654611E-1))
        sine = z * sine
        sine = fma(x, sine, x)

        let sinValue = usePolynomialForSin ? sine : cosine
        let cosValue = usePolynomialForSin ? cosine : sine
        return (Float(bitPattern: sinValue.bitPattern ^ signSin),
                Float(bitPattern: cosValue.bitPattern ^ signCos))
    }
}
