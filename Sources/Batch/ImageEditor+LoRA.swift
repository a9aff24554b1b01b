import Foundation
import Pipelines
import Prompts
import Recipes

/// The LoRAs one generation runs with: the recipe's `loras:`, then those its prompt (the edit's,
/// or the job's sidecar) names with `<lora:name:weight>`, resolved to files; and the prompt
/// without its tags, which is what the text encoder reads (A1111's `extra_networks.parse_prompt`).
struct GenerationLoRAs: Equatable {
    var prompt: String
    var loras: [Recipe.LoRA]
    /// The name each LoRA goes by in the PNG parameters' `Lora hashes`: the prompt's name, or the
    /// file stem for `loras:` entries.
    var names: [String]

    init(prompt written: String, recipe: Recipe, job: Job) throws {
        let tagged: PromptLoRAs
        do {
            tagged = try PromptLoRAs(written)
        } catch {
            throw BatchError.image("\(job.prompt == nil ? job.input : "\(job.input)'s prompt"): \(error.localizedDescription)")
        }
        var loras = recipe.loras
        var names = recipe.loras.map { URL(fileURLWithPath: $0.path).deletingPathExtension().lastPathComponent }
        for reference in tagged.loras {
            guard let file = recipe.loraFolders.file(named: reference.name) else {
                throw BatchError.image("\(job.input): no LoRA '\(reference.name)' (\(reference.name).safetensors) in \(recipe.loraFolders.searched)")
            }
            loras.append(Recipe.LoRA(path: file.path, weight: reference.weight))
            names.append(reference.name)
        }
        prompt = tagged.text
        self.loras = loras
        self.names = names
    }
}

extension ImageEditor {
    /// The generation's pipeline with its LoRAs fused in (re-fused only when the set changes), and
    /// the options it runs with, the prompt's LoRA tags taken out.
    func prepared(_ generation: Edit.Generation, model: String, job: Job) throws -> (pipeline: StableDiffusion, options: GenerationOptions) {
        let loras = try GenerationLoRAs(prompt: job.prompt ?? generation.prompt, recipe: recipe, job: job)
        var options = options(generation, job: job)
        options.prompt = loras.prompt
        return (try models.stableDiffusion(at: model, variant: .init(loras: loras.loras, vae: recipe.vae)), options)
    }

    /// A1111's `Lora hashes` field, `name: hash, ...` (names without `:` and `,`, as A1111 writes
    /// them), for the LoRAs a generation ran with; nil when none.
    func loraHashes(_ generation: Edit.Generation, job: Job) -> String? {
        guard let loras = try? GenerationLoRAs(prompt: job.prompt ?? generation.prompt, recipe: recipe, job: job),
              !loras.loras.isEmpty else { return nil }
        return zip(loras.names, loras.loras).map { name, lora in
            "\(name.filter { $0 != ":" && $0 != "," }): \(models.loraHash(at: lora.path) ?? "unknown")"
        }.joined(separator: ", ")
    }
}
