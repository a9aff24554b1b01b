import Foundation
import Recipes
import Schedulers
import Tensors

/// The `parameters` text AUTOMATIC1111 writes into a PNG, so existing tools (PNG Info,
/// image browsers) read how an Overpaint output was made; the prompts as written (A1111
/// syntax included, which is applied as A1111 applies it):
///
///     a watercolor painting
///     Negative prompt: blurry
///     Steps: 30, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: 1a2b3c4d5e, ...
struct GenerationParameters {
    /// The `Sampler:` field: A1111's name of the recipe's scheduler, else of the model's own
    /// scheduler class (the class name itself where no recipe name builds it), else "default".
    static func sampler(_ scheduler: SchedulerName?, modelClassName: @autoclosure () -> String?) -> String {
        if let scheduler { return scheduler.displayName }
        guard let className = modelClassName() else { return "default" }
        return SchedulerName(className: className)?.displayName ?? className
    }

    var prompt: String
    var negativePrompt: String
    var steps: Int
    var sampler: String
    var guidance: Double
    var seed: UInt64
    var width: Int
    var height: Int
    var modelHash: String?
    var modelName: String?
    var strength: Double?
    /// A1111's Clip skip (1, the last layer, is not written, as A1111 does).
    var clipSkip = 1
    /// A1111's `Lora hashes`: `name: hash, ...` (quoted, since it holds commas).
    var loraHashes: String?
    /// A1111's `TI hashes`: `name: hash, ...` of the embeddings the prompts write.
    var embeddingHashes: String?
    /// A1111's `VAE hash` and `VAE` (the file or folder name) when `vae:` replaced the model's own.
    var vaeHash: String?
    var vaeName: String?
    /// A1111's `Refiner` (`name [hash]`) and `Refiner switch at`.
    var refiner: Refiner?
    /// "bf16" when products ran in bf16 (`--precision bf16`), so such images are told apart;
    /// nil for f32, which A1111's fields assume.
    var precision: String? = GEMMBackend.active.isFloat32 ? nil : "bf16"

    struct Refiner {
        var name: String
        var hash: String?
        var switchAt: Double

        var fields: [String] {
            ["Refiner: \(name)" + (hash.map { " [\($0)]" } ?? ""), "Refiner switch at: \(switchAt)"]
        }
    }

    var text: String {
        var fields = ["Steps: \(steps)", "Sampler: \(sampler)", "CFG scale: \(guidance)", "Seed: \(seed)",
                      "Size: \(width)x\(height)"]
        if let modelHash { fields.append("Model hash: \(modelHash)") }
        if let modelName { fields.append("Model: \(modelName)") }
        if let vaeHash { fields.append("VAE hash: \(vaeHash)") }
        if let vaeName { fields.append("VAE: \(vaeName)") }
        if let strength { fields.append("Denoising strength: \(strength)") }
        if let refiner { fields += refiner.fields }
        if clipSkip != 1 { fields.append("Clip skip: \(clipSkip)") }
        if let embeddingHashes { fields.append("TI hashes: \"\(embeddingHashes)\"") }
        if let loraHashes { fields.append("Lora hashes: \"\(loraHashes)\"") }
        if let precision { fields.append("Precision: \(precision)") }
        fields.append("Version: Overpaint \(BatchRunner.version)")
        var lines = [prompt]
        if !negativePrompt.isEmpty { lines.append("Negative prompt: \(negativePrompt)") }
        lines.append(fields.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}
