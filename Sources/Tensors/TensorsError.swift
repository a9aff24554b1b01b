import Foundation

/// What can go wrong in the Tensors module's set-up (the kernels themselves only check preconditions).
public enum TensorsError: LocalizedError, Equatable {
    /// `OVERPAINT_GEMM` names no known backend.
    case unknownGEMMBackend(String)
    /// bf16 was asked for on a CPU without avx512_bf16.
    case bf16Unsupported
    /// f16 was asked for on a CPU without avx512_fp16.
    case f16Unsupported

    public var errorDescription: String? {
        switch self {
        case let .unknownGEMMBackend(value):
            let known = GEMMBackend.allCases.map(\.rawValue).joined(separator: ", ")
            return "OVERPAINT_GEMM=\(value) is not a GEMM backend (known: \(known))"
        case .bf16Unsupported:
            return "bf16 needs a CPU with avx512_bf16, which this one lacks; use f32"
        case .f16Unsupported:
            return "f16 needs a CPU with avx512_fp16, which this one lacks; use f32\(GEMMBackend.cpuHasAVX512BF16 ? " or bf16" : "")"
        }
    }
}
