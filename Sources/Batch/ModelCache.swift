import Foundation
import Pipelines

/// Models loaded once per run and shared by every image: loading SD 1.5 costs seconds and
/// gigabytes, an image should not pay it again.
final class ModelCache {
    /// Each loaded model by its kind and path.
    private var loaded: [String: Any] = [:]
    private var hashes: [String: String] = [:]

    /// The `Model` at `path`, loaded by `load` (from the path's URL) the first time it is asked for.
    func cached<Model>(_ path: String, load: (URL) throws -> Model) rethrows -> Model {
        let key = "\(Model.self) \(path)"
        if let model = loaded[key] as? Model { return model }
        let model = try load(URL(fileURLWithPath: path))
        loaded[key] = model
        return model
    }

    func diffusionUpscaler(at path: String) throws -> StableDiffusionUpscale {
        try cached(path, load: StableDiffusionUpscale.init(folder:))
    }

    /// A1111's "Model hash": the first 10 hex digits of the SHA-256 of the checkpoint (for a
    /// diffusers folder, of its UNet weights), computed once per run.
    func modelHash(at path: String) -> String? {
        if let known = hashes[path] { return known }
        let unet = URL(fileURLWithPath: path).appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        let file = FileManager.default.fileExists(atPath: unet.path) ? unet : URL(fileURLWithPath: path)
        guard let digest = try? ContentHash.sha256(ofFileAt: file) else { return nil }
        hashes[path] = String(digest.prefix(10))
        return hashes[path]
    }

    func stableDiffusion(at path: String) throws -> StableDiffusion {
        try cached(path, load: StableDiffusion.init(modelAt:))
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

    /// Where a bare model name (`upscale: {model: realesrgan-x4plus}`) is looked for, in
    /// order: $OVERPAINT_MODELS, ./models, and models/ beside or above the recipe's folder
    /// (where scripts/fetch-realesrgan puts them). In each, a Real-ESRGAN file (under
    /// realesrgan/ or not), else a diffusers folder of that name (an SD x4 upscaler).
    static func resolveUpscaler(_ name: String, recipe: URL) -> String? {
        guard !name.hasPrefix("/") else { return name }
        let environment = ProcessInfo.processInfo.environment
        let recipeFolder = recipe.deletingLastPathComponent()
        let roots = [environment["OVERPAINT_MODELS"].map { URL(fileURLWithPath: $0) },
                     URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("models"),
                     recipeFolder.appendingPathComponent("models"),
                     recipeFolder.deletingLastPathComponent().appendingPathComponent("models")].compactMap { $0 }
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
}
