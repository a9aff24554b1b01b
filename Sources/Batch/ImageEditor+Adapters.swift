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

    /// `source` names where the prompt comes from in errors (an image, its sidecar, the recipe).
    init(prompt written: String, recipe: Recipe, source: String) throws {
        let tagged: PromptLoRAs
        do {
            tagged = try PromptLoRAs(written)
        } catch {
            throw BatchError.image("\(source): \(error.localizedDescription)")
        }
        var loras = recipe.loras
        var names = recipe.loras.map { URL(fileURLWithPath: $0.path).deletingPathExtension().lastPathComponent }
        for reference in tagged.loras {
            guard let file = recipe.loraFolders.file(named: reference.name) else {
                throw BatchError.image("\(source): no LoRA '\(reference.name)' (\(reference.name).safetensors) in \(recipe.loraFolders.searched)")
            }
            loras.append(Recipe.LoRA(path: file.path, weight: reference.weight))
            names.append(reference.name)
        }
        prompt = tagged.text
        self.loras = loras
        self.names = names
    }

    init(prompt written: String, recipe: Recipe, job: Job) throws {
        try self.init(prompt: written, recipe: recipe, source: job.prompt == nil ? job.input : "\(job.input)'s prompt")
    }
}

extension ModelCache.Variant {
    /// What a generation's model is loaded with: its LoRAs (the recipe's and its prompt's), the
    /// recipe's VAE, and the embeddings its prompts write.
    init(_ generation: Edit.Generation, loras: GenerationLoRAs, recipe: Recipe) {
        let embeddings = GenerationEmbeddings(prompt: loras.prompt, negativePrompt: generation.negativePrompt, recipe: recipe)
        self.init(loras: loras.loras, vae: recipe.vae, vaeEncoder: recipe.vaeEncoder, recipe: recipe.source,
                  embeddings: embeddings.paths)
    }
}

/// The textual inversion files one generation adds: the recipe's `embeddings:`, then each file of
/// the embedding folders whose stem its prompt or negative prompt writes (in any case, as the
/// tokenizer matches it), in name order.
struct GenerationEmbeddings: Equatable {
    var paths: [String]
    /// The embeddings the prompts write, by name, for `TI hashes`.
    var used: [(name: String, path: String)]

    init(prompt: String, negativePrompt: String, recipe: Recipe) {
        let text = (prompt + "\n" + negativePrompt).lowercased()
        func written(_ stem: String) -> Bool { text.contains(stem.lowercased()) }
        let listed = recipe.embeddings.map { (name: URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent, path: $0) }
        let listedNames = Set(listed.map { $0.name.lowercased() })
        let found = recipe.embeddingFolders.files().sorted { $0.key < $1.key }
            .filter { !listedNames.contains($0.key.lowercased()) && written($0.key) }
            .map { (name: $0.key, path: $0.value.path) }
        paths = listed.map(\.path) + found.map(\.path)
        used = (listed + found).filter { written($0.name) }
    }

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.paths == rhs.paths }
}

extension ImageEditor {
    /// The generation's pipeline with its LoRAs fused in and its embeddings added (loaded anew only
    /// when they change), and the options it runs with, the prompt's LoRA tags taken out.
    func prepared(_ generation: Edit.Generation, model: String, job: Job) throws -> (pipeline: StableDiffusion, options: GenerationOptions) {
        let loras = try GenerationLoRAs(prompt: job.prompt ?? generation.prompt, recipe: recipe, job: job)
        var options = options(generation, job: job)
        options.prompt = loras.prompt
        return (try models.stableDiffusion(at: model, variant: .init(generation, loras: loras, recipe: recipe)), options)
    }

    /// A1111's `TI hashes` field, `name: hash, ...`, for the embeddings a generation's prompts
    /// write; nil when none.
    func embeddingHashes(_ generation: Edit.Generation, job: Job) -> String? {
        guard let loras = try? GenerationLoRAs(prompt: job.prompt ?? generation.prompt, recipe: recipe, job: job) else { return nil }
        let used = GenerationEmbeddings(prompt: loras.prompt, negativePrompt: generation.negativePrompt, recipe: recipe).used
        guard !used.isEmpty else { return nil }
        return used.map { "\($0.name.filter { $0 != ":" && $0 != "," }): \(models.embeddingHash(at: $0.path) ?? "unknown")" }
            .joined(separator: ", ")
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
