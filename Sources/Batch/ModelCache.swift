import Adapters
import FileAccess
import Foundation
import Pipelines
import Recipes

/// Models loaded once per run and shared by every image: loading SD 1.5 costs seconds and
/// gigabytes, an image should not pay it again.
final class ModelCache {
    /// Each loaded model by its kind and path.
    private var loaded: [String: Any] = [:]
    private var hashes: [String: String] = [:]
    /// Where file hashes are remembered between runs (the fingerprint has just hashed the model
    /// files through it); nil hashes every file anew.
    private let fileHashes: FileHashCache?
    /// Each Stable Diffusion model by path, with the LoRAs fused into it.
    private var pipelines: [String: (variant: Variant, pipeline: StableDiffusion)] = [:]
    /// How often `cached` went to the files of each path, failed loads included (a load that
    /// fails is not kept, so asking again reads the files again).
    private(set) var loadAttempts: [String: Int] = [:]

    init(fileHashes: FileHashCache? = nil) {
        self.fileHashes = fileHashes
    }

    /// The `Model` at `path`, loaded by `load` (from the path's URL) the first time it is asked for.
    func cached<Model>(_ path: String, load: (URL) throws -> Model) rethrows -> Model {
        let key = "\(Model.self) \(path)"
        if let model = loaded[key] as? Model { return model }
        loadAttempts[path, default: 0] += 1
        let model = try load(URL(fileURLWithPath: path))
        loaded[key] = model
        return model
    }

    func diffusionUpscaler(at path: String) throws -> StableDiffusionUpscale {
        try cached(path, load: StableDiffusionUpscale.init(folder:))
    }

    /// A1111's "Model hash" (and "VAE hash"): the first 10 hex digits of the SHA-256 of the checkpoint
    /// (for a diffusers folder, of its UNet weights; for a VAE folder, of its weights), computed once per run.
    func modelHash(at path: String, component: String = "unet") -> String? {
        if let known = hashes[path] { return known }
        let unet = URL(fileURLWithPath: path).appendingPathComponent(component.isEmpty ? "diffusion_pytorch_model.safetensors"
                                                                     : "\(component)/diffusion_pytorch_model.safetensors")
        let file = FileManager.default.fileExists(atPath: unet.path) ? unet : URL(fileURLWithPath: path)
        let digest = try? fileHashes?.sha256(ofFileAt: file.standardizedFileURL.path) ?? ContentHash.sha256(ofFileAt: file)
        guard let digest else { return nil }
        hashes[path] = String(digest.prefix(10))
        return hashes[path]
    }

    /// The hash sd-webui-controlnet titles a ControlNet model with, A1111's old `model_hash`:
    /// the first 8 hex digits of the SHA-256 of the 64 KiB at 1 MiB into the weights file (the
    /// folder's diffusion_pytorch_model.safetensors), of nothing for a smaller file; "NOFILE",
    /// as A1111, when it cannot be read.
    func controlNetHash(at path: String) -> String {
        let key = "controlnet \(path)"
        if let known = hashes[key] { return known }
        let weights = URL(fileURLWithPath: path).appendingPathComponent("diffusion_pytorch_model.safetensors")
        let file = FileManager.default.fileExists(atPath: weights.path) ? weights : URL(fileURLWithPath: path)
        guard let descriptor = try? RegularFile.open(file.path) else { return "NOFILE" }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try? handle.seek(toOffset: 0x100000)
        let window = (try? handle.read(upToCount: 0x10000)) ?? Data()
        let hash = String(ContentHash.sha256(of: window).prefix(8))
        hashes[key] = hash
        return hash
    }

    /// What a Stable Diffusion model is loaded with besides its own weights.
    struct Variant: Equatable {
        var loras: [Recipe.LoRA] = []
        /// A VAE replacing the model's own (`vae:`).
        var vae: String?
        /// Which of a tiny `vae` and the model's own VAE encodes (`vae_encoder:`; nil: the tiny one).
        var vaeEncoder: Recipe.VAEEncoder?
        /// The recipe file, whose folder is one of the places a tiny autoencoder's name is looked up.
        var recipe = URL(fileURLWithPath: "/")
        /// Textual inversion files, added in order.
        var embeddings: [String] = []
    }

    /// The pipeline at `path` with `variant`'s LoRAs fused in, in order, and its VAE. One variant is
    /// kept per model: another (a sidecar prompt naming other LoRAs) drops the fused copy and loads
    /// anew; without `variant`, whichever is loaded (for what does not depend on it).
    func stableDiffusion(at path: String, variant: Variant? = nil) throws -> StableDiffusion {
        if let (current, pipeline) = pipelines[path], variant == nil || variant == current { return pipeline }
        pipelines[path] = nil
        let chosen = variant ?? Variant()
        let adapters = try chosen.loras.map { lora in
            WeightedAdapter(file: try AdapterFile(url: URL(fileURLWithPath: lora.path)), weight: Float(lora.weight))
        }
        var pipeline = try StableDiffusion(modelAt: URL(fileURLWithPath: path), adapters: adapters)
        if let vae = chosen.vae {
            guard let folder = Self.resolveVAE(vae, recipe: chosen.recipe) else { throw BatchError.image(Self.missingTinyVAE(vae)) }
            pipeline = try pipeline.replacingVAE(with: URL(fileURLWithPath: folder), tinyEncodes: chosen.vaeEncoder.map { $0 == .tiny })
        }
        pipeline = try pipeline.addingEmbeddings(chosen.embeddings.map { try TextualInversion(url: URL(fileURLWithPath: $0)) })
        pipelines[path] = (chosen, pipeline)
        return pipeline
    }

    /// A1111's embedding short hash: the first 12 hex digits of the whole file's SHA-256.
    func embeddingHash(at path: String) -> String? {
        let key = "embedding \(path)"
        if let known = hashes[key] { return known }
        hashes[key] = (try? ContentHash.sha256(ofFileAt: URL(fileURLWithPath: path))).map { String($0.prefix(12)) }
        return hashes[key]
    }

    /// A1111's LoRA short hash: the first 12 hex digits of the SHA-256 of the file after its
    /// safetensors header (kohya's `addnet_hash_safetensors`, which A1111 uses for `.safetensors`).
    func loraHash(at path: String) -> String? {
        if let known = hashes[path] { return known }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe), data.count >= 8 else { return nil }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else { return nil }
        hashes[path] = String(ContentHash.sha256(of: data.dropFirst(8 + Int(headerLength))).prefix(12))
        return hashes[path]
    }

    func sdxlRefiner(at path: String) throws -> SDXLRefiner {
        try cached(path, load: SDXLRefiner.init(modelAt:))
    }

    func realESRGAN(at path: String) throws -> RealESRGANUpscale {
        try cached(path, load: RealESRGANUpscale.init(file:))
    }

    /// The depth estimator of a `depth_model` folder (a transformers Depth Anything model);
    /// errors are one line naming the folder.
    func depthEstimator(at path: String) throws -> DepthEstimation {
        try cached(path) { folder in
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                throw BatchError.image("depth_model '\(path)' is not a folder (a transformers Depth Anything model: config.json and model.safetensors)")
            }
            do {
                return try DepthEstimation(folder: folder)
            } catch {
                throw BatchError.image("depth_model '\(path)': \(error.localizedDescription)")
            }
        }
    }

    /// `vae:` as a path to load: a tiny autoencoder's name (`taesd`) is its folder in the first of
    /// `ModelSearchPath.folders` that has one, nil when none has; any other value is a path already.
    static func resolveVAE(_ vae: String, recipe: URL) -> String? {
        guard Recipe.tinyAutoencoderNames.contains(vae) else { return vae }
        return ModelSearchPath.folders(recipe: recipe).map { $0.appendingPathComponent(vae) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }?.path
    }

    /// A Real-ESRGAN file (under realesrgan/ or not) of that name in `ModelSearchPath.folders`, else a
    /// diffusers folder of that name (an SD x4 upscaler).
    static func resolveUpscaler(_ name: String, recipe: URL) -> String? {
        guard !name.hasPrefix("/") else { return name }
        let roots = ModelSearchPath.folders(recipe: recipe)
        for root in roots {
            for file in ["realesrgan/\(name).param", "realesrgan/\(name).safetensors", "\(name).param", "\(name).safetensors"] {
                let candidate = root.appendingPathComponent(file).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
            let pipeline = root.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: pipeline.appendingPathComponent("model_index.json").path) {
                return pipeline.path
            }
        }
        return nil
    }

    /// Why `vae: taesd` found no folder, naming where it looked.
    static func missingTinyVAE(_ name: String) -> String {
        "no tiny autoencoder folder '\(name)' (a diffusers AutoencoderTiny folder, such as madebyollin/\(name), "
            + "in $OVERPAINT_MODELS, ./models or models/ beside the recipe)"
    }
}
