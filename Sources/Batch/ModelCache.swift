import Foundation
import Models
import Pipelines

/// Models loaded once per run and shared by every image: loading SD 1.5 costs seconds and
/// gigabytes, an image should not pay it again.
final class ModelCache {
    private var pipelines: [String: StableDiffusion] = [:]
    private var upscalers: [String: any SuperResolutionNetwork] = [:]
    private var hashes: [String: String] = [:]
    private var controlNets: [String: ControlNetModel] = [:]
    private var diffusionUpscalers: [String: StableDiffusionUpscale] = [:]

    func diffusionUpscaler(at path: String) throws -> StableDiffusionUpscale {
        if let loaded = diffusionUpscalers[path] { return loaded }
        let loaded = try StableDiffusionUpscale(folder: URL(fileURLWithPath: path))
        diffusionUpscalers[path] = loaded
        return loaded
    }

    let depthEstimators = DepthEstimatorCache()

    func controlNet(at path: String) throws -> ControlNetModel {
        if let loaded = controlNets[path] { return loaded }
        let loaded = try ControlNetModel(folder: URL(fileURLWithPath: path))
        controlNets[path] = loaded
        return loaded
    }

    /// A1111's "Model hash": the first 10 hex digits of the SHA-256 of the checkpoint (for a
    /// diffusers folder, of its UNet weights), computed once per run.
    func modelHash(at path: String) -> String? {
        if let known = hashes[path] { return known }
        let unet = URL(fileURLWithPath: path).appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        let file = FileManager.default.fileExists(atPath: unet.path) ? unet : URL(fileURLWithPath: path)
        guard let digest = try? SHA256.hex(ofFileAt: file) else { return nil }
        hashes[path] = String(digest.prefix(10))
        return hashes[path]
    }

    func stableDiffusion(at path: String) throws -> StableDiffusion {
        if let loaded = pipelines[path] { return loaded }
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        // A file is a single-file LDM checkpoint (RECIPES.md); a folder is a diffusers pipeline.
        let loaded = exists && !isFolder.boolValue
            ? try StableDiffusion(singleFile: URL(fileURLWithPath: path))
            : try StableDiffusion(folder: URL(fileURLWithPath: path))
        pipelines[path] = loaded
        return loaded
    }

    func superResolution(at path: String) throws -> any SuperResolutionNetwork {
        if let loaded = upscalers[path] { return loaded }
        let loaded = try loadSuperResolutionNetwork(at: URL(fileURLWithPath: path))
        upscalers[path] = loaded
        return loaded
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
