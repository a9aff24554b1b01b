import FileAccess
import Foundation
import Pipelines
import Recipes
import Weights

/// What `validate` and `run` check before any image is read, one set of checks for both, so
/// that a recipe that validates cannot fail every image (RECIPES.md).
///
/// The recipe reader has already checked every key and number; this adds what needs the
/// world outside the recipe: the environment, where templates and globs lead, and whether
/// every model loads. The input folder's checks (globs match, mask folders exist, outputs
/// stay off inputs) are `BatchPlan`'s.
public struct Preflight {
    public let recipe: Recipe
    public let environment: [String: String]

    public init(recipe: Recipe, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.recipe = recipe
        self.environment = environment
    }

    /// Every problem knowable from the recipe and the environment alone, one line each,
    /// models aside (`loadModels`).
    public func problems() -> [String] {
        environmentProblems() + templateProblems() + globProblems()
    }

    /// Loads every model the recipe's edits use, as `run` does before its first image;
    /// throws every one that does not load.
    public func loadModels() throws(BatchError) {
        try ModelCache().loadEveryModel(of: recipe)
    }

    /// Variables Overpaint reads that are set to something it cannot use, which would
    /// otherwise be ignored. (`OVERPAINT_GEMM` is checked by every command, at start.)
    func environmentProblems() -> [String] {
        var problems: [String] = []
        if let text = environment["OVERPAINT_THREADS"], !text.isEmpty,
           (Int(text.trimmingCharacters(in: .whitespaces)) ?? 0) < 1 {
            problems.append("OVERPAINT_THREADS=\(text) is not a thread count (a whole number, 1 or more)")
        }
        return problems
    }

    /// Templates that lead outside their folder for some image. Placeholders expand to one
    /// path component or to the image's folder inside `--input`, so two sample images, one
    /// at the top and one in a folder, show what every image would get.
    func templateProblems() -> [String] {
        var problems: [String] = []
        for image in ["photo.png", "folder/photo.png"] {
            if let reason = BatchPlan.unsafeOutputReason(recipe.output.path.expand(forImageAt: image)) {
                problems.append("\(recipe.sourceName): output.path '\(recipe.output.path)': \(reason)")
            }
            do {
                _ = try Sidecar.all(of: image, recipe: recipe)
            } catch {
                problems.append("\(recipe.sourceName): \(error.errorDescription ?? "")")
            }
        }
        // Both sample images usually show the same problem: say it once.
        return problems.enumerated().filter { index, problem in !problems[..<index].contains(problem) }.map(\.element)
    }

    /// Globs that cannot match anything the walk lists: relative `/`-separated paths with no
    /// `.` or `..`, whose last component is a file name (and an image's has an extension).
    func globProblems() -> [String] {
        recipe.match.images.enumerated().compactMap { index, pattern in
            Glob.problem(pattern).map { "\(recipe.sourceName): match.images[\(index)] '\(pattern)': \($0)" }
        }
    }
}

extension ModelCache {
    /// Loads every model `recipe`'s edits use, the way the edits will ask for them (so each
    /// is loaded once), so that a model that does not load stops the run before any image
    /// instead of failing every one. Throws every model that does not load.
    func loadEveryModel(of recipe: Recipe) throws(BatchError) {
        var problems: [String] = []
        // Every img2img and inpaint edit carries the recipe's one `refiner:`: checked once, said once.
        var checkedRefiners: Set<String> = []
        func attempt(_ key: String, _ path: String, _ load: () throws -> Void) {
            do {
                try ModelProblem.refusePickle(path)
                try load()
            } catch {
                problems.append("\(recipe.sourceName): \(key): \(ModelProblem.describe(error, loading: path))")
            }
        }
        func generation(_ generation: Edit.Generation, key: String) {
            if let model = generation.model {
                // With the edit's LoRAs, VAE and embeddings, as its images will ask for it: a LoRA
                // that does not fit the model stops the run here, once.
                attempt("\(key).model", model) {
                    let loras = try GenerationLoRAs(prompt: generation.prompt, recipe: recipe, source: "\(key).prompt")
                    let pipeline = try stableDiffusion(at: model, variant: .init(generation, loras: loras, recipe: recipe))
                    if generation.refiner != nil && pipeline.sdxl == nil {
                        throw PipelinesError.refinerNeedsSDXLBase(reason: "the model is not SDXL")
                    }
                }
            }
            if let refiner = generation.refiner, checkedRefiners.insert(refiner.model).inserted {
                attempt("refiner", refiner.model) { _ = try sdxlRefiner(at: refiner.model) }
            }
            for (index, control) in generation.control.enumerated() {
                let controlKey = "\(key).control[\(index)]"
                attempt("\(controlKey).model", control.model) {
                    _ = try cached(control.model, load: ControlInput.loadModel(folder:))
                }
                if control.type == .depth, control.source == .estimate, let depthModel = control.depthModel {
                    attempt("\(controlKey).depth_model", depthModel) { _ = try depthEstimator(at: depthModel) }
                }
            }
        }
        for (index, edit) in recipe.edits.enumerated() {
            let key = "edits[\(index)].\(edit.name)"
            switch edit {
            case .img2img(let settings): generation(settings, key: key)
            case .inpaint(let inpaint): generation(inpaint.generation, key: key)
            case .edit(let inversion): generation(inversion.generation, key: key)
            case .upscale(let upscale):
                guard let path = Self.resolveUpscaler(upscale.model, recipe: recipe.source) else {
                    problems.append("\(recipe.sourceName): \(key).model: no upscaler model '\(upscale.model)' (run scripts/fetch-realesrgan, or give a .param/.safetensors path or an SD x4 upscaler folder)"
                                    + Self.modelsFolderNote())
                    continue
                }
                attempt("\(key).model", path) {
                    var isFolder: ObjCBool = false
                    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                        guard StableDiffusionUpscale.isUpscalerFolder(URL(fileURLWithPath: path)) else {
                            throw BatchError.image("\(path) is a folder but not an SD x4 upscaler (its model_index.json must name StableDiffusionUpscalePipeline)")
                        }
                        _ = try diffusionUpscaler(at: path)
                    } else {
                        _ = try realESRGAN(at: path)
                    }
                }
            case .fill, .resize, .canny:
                continue
            }
        }
        if !problems.isEmpty { throw .unusableModels(problems) }
    }

    /// Where `OVERPAINT_MODELS` names no folder, the reason a bare upscaler name was not found.
    private static func modelsFolderNote() -> String {
        guard let folder = ProcessInfo.processInfo.environment["OVERPAINT_MODELS"], !folder.isEmpty else { return "" }
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue
        return exists ? "" : "; OVERPAINT_MODELS=\(folder) is not a folder"
    }
}

/// Why a model did not load, in one line naming its file, and the family when its files
/// show it is one this version cannot run.
enum ModelProblem {
    /// Pickle files are refused by name or content before any loader opens them.
    static func refusePickle(_ path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { return }
        try PickleGuard.refusePickle(URL(fileURLWithPath: path))
    }

    static func describe(_ error: Error, loading path: String) -> String {
        let message = ((error as? LocalizedError)?.errorDescription ?? "\(error)")
            .split(whereSeparator: \.isNewline).joined(separator: " ")
        if let family = unsupportedFamily(at: URL(fileURLWithPath: path)) {
            return "\(path): \(family.name) is not supported yet (\(family.evidence)); this version runs Stable Diffusion 1.x, 2.x and SDXL (diffusers folders and single files)"
        }
        return message.contains(path) ? message : "\(path): \(message)"
    }

    /// Pipeline classes and model classes of families other than SD 1.x / 2.x / SDXL, by prefix.
    private static let familiesByClass = [
        ("StableDiffusion3", "Stable Diffusion 3"), ("SD3", "Stable Diffusion 3"),
        ("Flux", "FLUX"), ("Kandinsky", "Kandinsky"), ("PixArt", "PixArt"), ("StableCascade", "Stable Cascade"),
    ]

    /// Tensor name prefixes of single-file checkpoints of families this version cannot load.
    private static let familiesByTensor = [
        ("model.diffusion_model.joint_blocks.", "Stable Diffusion 3"), ("double_blocks.", "FLUX"),
    ]

    /// The family a model that failed to load belongs to, where its configs or tensor names
    /// say it is one this version cannot run, with what says so.
    static func unsupportedFamily(at url: URL) -> (name: String, evidence: String)? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return nil }
        guard isFolder.boolValue else {
            guard let keys = try? SafeTensorsFile(url: url).keys else { return nil }
            for (prefix, family) in familiesByTensor where keys.contains(where: { $0.hasPrefix(prefix) }) {
                return (family, "its tensors include \(prefix)*")
            }
            return nil
        }
        for config in ["model_index.json", "config.json", "unet/config.json", "transformer/config.json"] {
            guard let object = jsonObject(url.appendingPathComponent(config)) else { continue }
            if let className = object["_class_name"] as? String,
               let family = familiesByClass.first(where: { className.hasPrefix($0.0) })?.1 {
                return (family, "\(config) names \(className)")
            }
        }
        return nil
    }

    private static func jsonObject(_ url: URL) -> [String: Any]? {
        guard let data = try? RegularFile.contents(of: url) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
