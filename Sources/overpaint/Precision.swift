import ArgumentParser
import Tensors

/// `--precision`: the arithmetic of every matrix product (convolutions, linears, attention).
enum Precision: String, CaseIterable, ExpressibleByArgument {
    /// f32 throughout, as diffusers on the CPU.
    case f32
    /// Operands rounded to bf16, products accumulated and kept in f32; needs avx512_bf16.
    case bf16

    static let help = ArgumentHelp(
        "Matrix-product arithmetic: f32, or bf16 (operands rounded to bf16, accumulated in f32; needs a CPU with avx512_bf16).")

    /// Refuses bf16 where the CPU would run it slowly, as an invalid argument.
    func validate() throws {
        guard self == .bf16 else { return }
        do {
            try GEMMBackend.checkSupported(.bf16)
        } catch {
            throw ValidationError(error.localizedDescription)
        }
    }

    /// Makes every product from now on use this precision.
    func apply() throws {
        if self == .bf16 { try GEMMBackend.choose(.bf16) }
    }
}
