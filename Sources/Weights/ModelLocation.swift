import Foundation

/// Where a user's model lives and in which layout, decided before any weight is read.
///
/// - a diffusers pipeline folder (`model_index.json` with `unet/`, `vae/`, `text_encoder/`,
///   `tokenizer/`, `scheduler/`, ...),
/// - a diffusers model folder (`config.json` plus weights, e.g. a ControlNet),
/// - a single `.safetensors` file in the original LDM layout.
///
/// Pickle files (`.ckpt`, `.pt`, `.pth`, `.bin`, or pickle/zip content) are refused.
public enum ModelLocation: Sendable {
    case diffusersPipeline(DiffusersPipelineFolder)
    /// A folder with one model; `className` is the config's `_class_name` (e.g. "ControlNetModel").
    case diffusersModel(folder: URL, className: String?)
    case singleFile(SingleFileCheckpoint)

    public static func detect(_ url: URL) throws -> ModelLocation {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            // Not a folder: opening the file says whether it is missing, a dangling link, a FIFO...
            try PickleGuard.refusePickle(url)
            return .singleFile(try SingleFileCheckpoint(file: SafeTensorsFile(url: url)))
        }
        let modelIndex = url.appendingPathComponent("model_index.json")
        if FileManager.default.fileExists(atPath: modelIndex.path) {
            return .diffusersPipeline(try DiffusersPipelineFolder(url: url))
        }
        let config = url.appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: config.path) {
            let className = try readJSONObject(config)["_class_name"] as? String
            return .diffusersModel(folder: url, className: className)
        }
        throw WeightsError.unrecognizedLayout(path: url.path, detail: "folder has neither model_index.json nor config.json")
    }
}

/// A diffusers pipeline folder: `model_index.json` names the components, each in its subfolder.
public struct DiffusersPipelineFolder: Sendable {
    public let url: URL
    /// `_class_name` from model_index.json (e.g. "StableDiffusionInpaintPipeline").
    public let pipelineClass: String?
    /// Component name -> class name, for components that model_index.json lists and that exist.
    public let components: [String: String]

    public init(url: URL) throws {
        let index = try readJSONObject(url.appendingPathComponent("model_index.json"))
        var components: [String: String] = [:]
        for (name, value) in index where !name.hasPrefix("_") {
            // Entries look like ["diffusers", "UNet2DConditionModel"]; [null, null] marks an absent one.
            guard let pair = value as? [Any], pair.count == 2, let className = pair[1] as? String else { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &isDirectory),
               isDirectory.boolValue {
                components[name] = className
            }
        }
        self.url = url
        pipelineClass = index["_class_name"] as? String
        self.components = components
    }

    public func folder(of component: String) throws -> URL {
        guard components[component] != nil else {
            throw WeightsError.unrecognizedLayout(path: url.path, detail: "no '\(component)' component")
        }
        return url.appendingPathComponent(component)
    }

    /// The component's weights (refusing a component saved only as pickle `.bin`).
    public func weights(of component: String) throws -> WeightStore {
        try WeightStore(url: folder(of: component))
    }
}

func readJSONObject(_ url: URL) throws -> [String: Any] {
    let data = try regularFileContents(url)
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw WeightsError.badConfig(path: url.path, detail: "not a JSON object")
    }
    return object
}
