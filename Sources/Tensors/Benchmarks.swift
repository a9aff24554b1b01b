import Dispatch

/// One timed kernel: its best wall time over the repetitions and the rate that implies.
public struct BenchResult: Sendable, Equatable {
    /// What ran, with its shape.
    public let name: String
    /// Floating-point operations of one run (a multiply-add counts 2).
    public let flops: Double
    /// Best wall-clock seconds over the repetitions.
    public let seconds: Double
    /// Rate of the best run divided by the rate of the reference sgemm in the same run
    /// (M=4096 N=320 K=2880, the UNet's 320-channel 3x3 convolution as a GEMM), so results
    /// compare across machines and runs.
    public let fractionOfSGEMM: Double
    /// The GEMM library the kernel ran on.
    public let backend: GEMMBackend

    public var gflops: Double { flops / seconds / 1e9 }
}

/// The kernels that dominate a Stable Diffusion 1.5 UNet step at 512x512 (64x64 latents,
/// classifier-free guidance batch 2), timed as `overpaint bench` reports them.
public enum TensorBenchmarks {
    /// Runs every kernel `repetitions` times after one warm-up and returns the best times.
    /// The first result is the reference sgemm on the f32 backend chosen for this CPU (OpenBLAS,
    /// the BLAS the environment provides, unless it runs a generic core or the CPU has AVX-512),
    /// which every fraction is measured against; the GEMM shapes then run on every backend this
    /// CPU runs at speed, the other kernels on the active one. Each name ends with its backend
    /// in brackets.
    public static func run(repetitions: Int = 3) -> [BenchResult] {
        let backend = GEMMBackend.active
        let reference = GEMMShape(m: 4096, n: 320, k: 2880)
        let referenceBackend = GEMMBackend.automaticFloat32
        let referenceSeconds = GEMMBackend.withBackend(referenceBackend) { reference.bestTime(repetitions) }
        let timing = Timing(repetitions: repetitions, referenceSeconds: referenceSeconds, referenceFlops: reference.flops)
        var results = [timing.result("sgemm reference \(reference)", reference.flops, referenceSeconds, referenceBackend)]
        // conv2d's own GEMM (weights x columns), then the UNet's linear and attention shapes.
        let shapes = [reference, GEMMShape(m: 320, n: 4096, k: 2880), GEMMShape(m: 4096, n: 320, k: 320),
                      GEMMShape(m: 4096, n: 2560, k: 320), GEMMShape(m: 4096, n: 320, k: 1280),
                      GEMMShape(m: 4096, n: 4096, k: 40), GEMMShape(m: 4096, n: 40, k: 4096)]
        for gemmBackend in gemmBackends {
            for shape in shapes {
                let seconds = GEMMBackend.withBackend(gemmBackend) { shape.bestTime(repetitions) }
                results.append(timing.result("sgemm \(shape)", shape.flops, seconds, gemmBackend))
            }
        }
        results.append(convolution(timing, backend: backend))
        results.append(contentsOf: upscalerAndVAEConvolutions(timing, backend: backend))
        results.append(contentsOf: attentions(timing, backend: backend))
        results.append(contentsOf: halfWeightLinears(timing, backend: backend))
        return results
    }

    /// The backends the GEMM shapes are timed on: every f32 one, and bf16 / f16 where the CPU has them.
    static var gemmBackends: [GEMMBackend] {
        GEMMBackend.float32Cases + GEMMBackend.reducedCases
    }

    /// conv2d 3x3, 320 -> 320 channels, 64x64, batch 2, padding 1 (a UNet down block ResNet).
    private static func convolution(_ timing: Timing, backend: GEMMBackend) -> BenchResult {
        let x = filled([2, 320, 64, 64])
        let weight = filled([320, 320, 3, 3], scale: 0.02)
        let bias = filled([320])
        let flops = 2.0 * 2 * 320 * 64 * 64 * 320 * 9
        let seconds = bestTime(timing.repetitions) { _ = conv2d(x, weight: weight, bias: bias, padding: 1) }
        return timing.result("conv2d 3x3 [2, 320, 64, 64] -> 320", flops, seconds, backend)
    }

    /// The convolutions that dominate Real-ESRGAN x4plus (3x3, 64 channels, at a 256x256 tile)
    /// and the SD VAE decoder (3x3, 512 channels, at 128x128 for a 512x512 image).
    private static func upscalerAndVAEConvolutions(_ timing: Timing, backend: GEMMBackend) -> [BenchResult] {
        [(channels: 64, side: 256), (channels: 512, side: 128)].map { shape in
            let x = filled([1, shape.channels, shape.side, shape.side])
            let weight = filled([shape.channels, shape.channels, 3, 3], scale: 0.02)
            let bias = filled([shape.channels])
            let flops = 2.0 * Double(shape.channels * shape.channels * 9 * shape.side * shape.side)
            let seconds = bestTime(timing.repetitions) { _ = conv2d(x, weight: weight, bias: bias, padding: 1) }
            return timing.result("conv2d 3x3 [1, \(shape.channels), \(shape.side), \(shape.side)] -> \(shape.channels)",
                                 flops, seconds, backend)
        }
    }

    /// The UNet's feed-forward linears (4096 tokens) with an f32 weight and with the same weight
    /// kept f16 and widened at use, so the pair shows what keeping weights half-size costs.
    private static func halfWeightLinears(_ timing: Timing, backend: GEMMBackend) -> [BenchResult] {
        [(inFeatures: 320, outFeatures: 2560), (inFeatures: 1280, outFeatures: 320)].flatMap { shape in
            let x = filled([4096, shape.inFeatures])
            let floatWeight = filled([shape.outFeatures, shape.inFeatures], scale: 0.05)
            let halfWeight = HalfTensor(shape: floatWeight.shape, format: .f16,
                                        bitPatterns: floatWeight.scalars.map { Float16($0).bitPattern })
            let flops = 2.0 * 4096 * Double(shape.inFeatures * shape.outFeatures)
            let name = "linear [4096, \(shape.inFeatures)] -> \(shape.outFeatures)"
            return [(WeightTensor.float(floatWeight), "f32"), (WeightTensor.half(halfWeight), "f16")].map { weight, type in
                let seconds = bestTime(timing.repetitions) { _ = linear(x, weight: weight) }
                return timing.result("\(name), \(type) weight", flops, seconds, backend)
            }
        }
    }

    /// Self-attention over 4096 tokens, 8 heads of 40, batch 2 (the first UNet transformer), and
    /// its cross-attention over 77 text tokens, on each attention kernel this CPU runs.
    private static func attentions(_ timing: Timing, backend: GEMMBackend) -> [BenchResult] {
        let q = filled([2, 4096, 320])
        let k = filled([2, 4096, 320])
        let v = filled([2, 4096, 320])
        let textK = filled([2, 77, 320])
        let textV = filled([2, 77, 320])
        let preferred = AttentionKernel.preferred(headWidth: 40)
        let kernels: [AttentionKernel] = preferred == .blockedProducts ? [preferred] : [preferred, .blockedProducts]
        return kernels.flatMap { kernel in
            let name = switch kernel {
            case .fused(.f32): "fused"
            case let .fused(reduced): "fused, \(reduced)"
            case .blockedProducts: "blocked products"
            }
            let selfSeconds = bestTime(timing.repetitions) { _ = attention(q, k, v, heads: 8, kernel: kernel) }
            let crossSeconds = bestTime(timing.repetitions) { _ = attention(q, textK, textV, heads: 8, kernel: kernel) }
            return [timing.result("attention [2, 4096, 8x40], \(name)", 4.0 * 2 * 8 * 4096 * 4096 * 40, selfSeconds, backend),
                    timing.result("cross-attention [2, 4096 x 77, 8x40], \(name)", 4.0 * 2 * 8 * 4096 * 77 * 40,
                                  crossSeconds, backend)]
        }
    }

    static func bestTime(_ repetitions: Int, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    /// Deterministic values in [-scale, scale) (speed does not depend on them; no denormals).
    public static func filled(_ shape: [Int], scale: Float = 1) -> Tensor {
        var state: UInt32 = 0x9E37_79B9
        return Tensor(shape: shape) { buffer in
            for index in buffer.indices {
                state = state &* 1_664_525 &+ 1_013_904_223
                buffer[index] = (Float(state >> 8) / Float(1 << 24) * 2 - 1) * scale
            }
        }
    }
}

/// The repetitions of one benchmark run and the reference rate its fractions divide by.
private struct Timing {
    let repetitions: Int
    let referenceSeconds: Double
    let referenceFlops: Double

    func result(_ name: String, _ flops: Double, _ seconds: Double, _ backend: GEMMBackend) -> BenchResult {
        BenchResult(name: "\(name) [\(backend)]", flops: flops, seconds: seconds,
                    fractionOfSGEMM: (flops / seconds) / (referenceFlops / referenceSeconds), backend: backend)
    }
}

/// A row-major sgemm `C[m, n] = A[m, k] B[k, n]` with its own operands.
private struct GEMMShape: CustomStringConvertible {
    let m, n, k: Int

    var flops: Double { 2.0 * Double(m) * Double(n) * Double(k) }
    var description: String { "M=\(m) N=\(n) K=\(k)" }

    func bestTime(_ repetitions: Int) -> Double {
        let a = TensorBenchmarks.filled([m, k])
        let b = TensorBenchmarks.filled([k, n])
        return TensorBenchmarks.bestTime(repetitions) { _ = matmul(a, b) }
    }
}
