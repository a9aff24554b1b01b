import Foundation
import Weights

/// Model families that are recognised but cannot be run yet, so a user learns at once what
/// the file is instead of meeting a missing `unet` or an unknown key layout.
///
/// Detection follows diffusers' `infer_diffusers_model_type` (single_file_utils.py
/// `CHECKPOINT_KEY_NAMES`) for single files and the pipeline / model class for diffusers folders.
public enum UnsupportedFamily: String, Sendable, Equatable {
    case sd3 = "SD3"
    case flux = "Flux"

    /// Single-file keys that mark each family (with or without the `model.diffusion_model.` prefix).
    static let markerKeys: [(UnsupportedFamily, String)] = [
        (.sd3, "joint_blocks.0.context_block.adaLN_modulation.1.bias"),
        (.flux, "double_blocks.0.img_attn.norm.key_norm.scale"),
    ]

    /// The family of a safetensors file's tensor names, if they are one of these.
    public static func detect(keys: [String]) -> UnsupportedFamily? {
        let names = Set(keys)
        return markerKeys.first { _, marker in
            names.contains(marker) || names.contains(LDMPrefix.unet + marker)
        }?.0
    }

    /// The family a diffusers class name belongs to ("StableDiffusion3Pipeline", "FluxTransformer2DModel").
    public static func detect(className: String?) -> UnsupportedFamily? {
        guard let className else { return nil }
        if className.hasPrefix("StableDiffusion3") || className.hasPrefix("SD3") { return .sd3 }
        if className.hasPrefix("Flux") { return .flux }
        return nil
    }

    /// The family of the model at `url` (a single file, a pipeline folder or a model folder),
    /// from headers and JSON alone; nil when it is none of these or cannot be read (loading
    /// then reports that problem).
    public static func detect(at url: URL) -> UnsupportedFamily? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return nil }
        if !isFolder.boolValue {
            return (try? SafeTensorsFile(url: url)).flatMap { detect(keys: $0.keys) }
        }
        if let pipeline = try? DiffusersPipelineFolder(url: url) {
            return detect(className: pipeline.pipelineClass)
                ?? pipeline.components.values.lazy.compactMap { detect(className: $0) }.first
        }
        let config = url.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: config),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return detect(className: object["_class_name"] as? String)
    }

    /// Throws `ModelsError.unsupportedFamily` when the model at `url` is SD3 or Flux.
    public static func refuse(_ url: URL) throws {
        if let family = detect(at: url) { throw ModelsError.unsupportedFamily(path: url.path, family: family.rawValue) }
    }
}
