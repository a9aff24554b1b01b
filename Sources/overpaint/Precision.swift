import ArgumentParser
import Tensors

/// `--precision`: the arithmetic of every matrix product (convolutions, linears, attention).
enum Precision: String, CaseIterable, ExpressibleByArgument {
    /// f32 throughout, as diffusers on the CPU.
    case f32
    /// Operands rounded to bf16, products accumulated and kept in f32; needs avx512_bf16.
    case bf16
    /// Operands rounded to f16, products summed in f16 over runs of 128 and in f32 beyond; needs
    /// avx512_fp16.
    case f16

    static let help = ArgumentHelp(
        "Matrix-product arithmetic: f32; bf16 (operands rounded to bf16, accumulated in f32; needs avx512_bf16); or f16 (operands rounded to f16, summed in f16 over runs of 128 and in f32 beyond; needs avx512_fp16).")

    /// The products' backend for a reduced precision; nil for f32 (the CPU's automatic choice).
    var backend: GEMMBackend? { GEMMBackend(rawValue: rawValue) }

    /// Refuses a reduced precision where the CPU would run it slowly, as an invalid argument.
    func validate() throws {
        guard let backend else { return }
        do {
            try GEMMBackend.checkSupported(backend)
        } catch {
            throw ValidationError(error.localizedDescription)
        }
    }

    /// Makes every product from now on use this precision.
    func apply() throws {
        if let backend { try GEMMBackend.choose(backend) }
    }
}
