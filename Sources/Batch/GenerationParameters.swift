import Foundation
import Recipes
import Schedulers
import Tensors

/// The `parameters` text AUTOMATIC1111 writes into a PNG, so existing tools (PNG Info,
/// image browsers, sd-parsers) read how an Overpaint output was made; the prompts as written
/// (A1111 syntax included, which is applied as A1111 applies it):
///
///     a watercolor painting
///     Negative prompt: blurry
///     Steps: 30, Sampler: DDIM, Schedule type: Automatic, CFG scale: 7.5, Seed: 42, Size: 512x512, ...
///
/// This implementation matches stable-diffusion-webui v1.10's `create_infotext`
/// (modules/processing.py): its fields in its order, each value through `quote`
/// (modules/infotext_utils.py), the extra fields in the order A1111 and its extensions set them
/// (ControlNet units as Mikubill/sd-webui-controlnet's `ControlNetUnit.serialize`).
/// tools/reference/infotext_fixtures.py writes the cases that check it. `Size` is the size the
/// generation worked at, as A1111's `p.width` x `p.height`: the output's, but for "Only masked"
/// the size the crop was processed at (see `ImageEditor`'s `maskedAreaSize`).
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
    /// A1111's old-style name ("DPM++ 2M Karras"), written as A1111 v1.10 splits it.
    var sampler: String
    var guidance: Double
    var seed: UInt64
    var width: Int
    var height: Int
    var modelHash: String?
    var modelName: String?
    var strength: Double?
    /// Whether the model is an inpainting one (a 9-channel UNet): A1111 then writes its
    /// `Conditional mask weight`, 1.0, which is what diffusers' full mask conditioning is.
    var usesInpaintingModel = false
    /// A1111's Clip skip (1, the last layer, is not written, as A1111 does).
    var clipSkip = 1
    var inpainting: Inpainting?
    var controlNets: [ControlNetUnit] = []
    /// A1111's `Lora hashes`: `name: hash, ...`.
    var loraHashes: String?
    /// A1111's `TI hashes`: `name: hash, ...` of the embeddings the prompts write.
    var embeddingHashes: String?
    /// A1111's `VAE hash` and `VAE` (the file or folder name) when `vae:` replaced the model's own.
    var vaeHash: String?
    var vaeName: String?
    /// A1111's `Refiner` (`name [hash]`) and `Refiner switch at`.
    var refiner: Refiner?
    /// "bf16" or "f16" when products ran in them (`--precision`), so such images are told apart;
    /// nil for f32, which A1111's fields assume. Written where an extension's field would be,
    /// last before `Version`; sd-parsers keeps it among its metadata.
    var precision: String? = GEMMBackend.active.isFloat32 ? nil : GEMMBackend.active.precisionName

    /// A1111's `Model`, `Refiner` and ControlNet model names: a checkpoint file's name without
    /// its extension (`CheckpointInfo.name_for_extra`); a diffusers folder by its name.
    static func checkpointName(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
        return folder ? url.lastPathComponent : url.deletingPathExtension().lastPathComponent
    }

    struct Refiner {
        var name: String
        var hash: String?
        var switchAt: Double

        var fields: [(String, String)] {
            [("Refiner", name + (hash.map { " [\($0)]" } ?? "")), ("Refiner switch at", "\(switchAt)")]
        }
    }

    /// What `StableDiffusionProcessingImg2Img.init` records of an inpainting, in its order.
    /// Overpaint's `mask_grow` and `resize_mask` have no A1111 counterpart and are not written.
    struct Inpainting {
        var maskBlur: Int
        var onlyMasked: Bool
        var padding: Int
        var fill: Edit.Inpaint.FillMode

        init(_ inpaint: Edit.Inpaint) {
            maskBlur = inpaint.maskBlur
            onlyMasked = inpaint.area == .masked
            padding = inpaint.padding
            fill = inpaint.fill
        }

        var fields: [(String, String)] {
            var fields: [(String, String)] = []
            if maskBlur > 0 { fields.append(("Mask blur", "\(maskBlur)")) }
            // "Whole picture" is A1111's default and not written.
            if onlyMasked { fields += [("Inpaint area", "Only masked"), ("Masked area padding", "\(padding)")] }
            if let maskedContent { fields.append(("Masked content", maskedContent)) }
            return fields
        }

        /// `original` is A1111's default and not written.
        private var maskedContent: String? {
            switch fill {
            case .original: nil
            case .fill: "fill"
            case .noise: "latent noise"
            case .latentNothing: "latent nothing"
            }
        }
    }

    /// One `control:` entry as sd-webui-controlnet's `ControlNetUnit.serialize` writes its 11
    /// infotext fields. Overpaint stretches a control map to the generation size, as diffusers'
    /// control image processing does ("Just Resize"), gives the map's resolution rather than
    /// Pixel Perfect, and has only the Balanced control mode.
    struct ControlNetUnit {
        var module: String
        /// The extension's model title: `name [hash]`.
        var model: String
        var weight: Double
        var processorResolution: Int
        var thresholdA: Double
        var thresholdB: Double
        var guidanceStart: Double
        var guidanceEnd: Double

        /// `control` as a unit: canny with its thresholds; a depth map given as a file with no
        /// preprocessor (`none`, whose sliders the extension resets to their defaults, 512 and
        /// 0.5); an estimated one as `depth_anything`, the preprocessor of the same model family.
        /// `mapResolution`: the short side of the image the map is made from.
        init(_ control: Edit.Control, modelHash: String, mapResolution: Int) {
            switch (control.type, control.source) {
            case (.canny, _):
                (module, processorResolution, thresholdA, thresholdB) = ("canny", mapResolution, Double(control.low), Double(control.high))
            case (.depth, .file):
                (module, processorResolution, thresholdA, thresholdB) = ("none", 512, 0.5, 0.5)
            case (.depth, .estimate):
                (module, processorResolution, thresholdA, thresholdB) = ("depth_anything", mapResolution, 0.5, 0.5)
            }
            model = "\(GenerationParameters.checkpointName(control.model)) [\(modelHash)]"
            weight = control.scale
            guidanceStart = control.start
            guidanceEnd = control.end
        }

        /// The extension writes nothing for a unit whose values hold `,` or `:`.
        var serialized: String {
            let fields = [("Module", module), ("Model", model), ("Weight", "\(weight)"), ("Resize Mode", "Just Resize"),
                          ("Processor Res", "\(processorResolution)"), ("Threshold A", "\(thresholdA)"),
                          ("Threshold B", "\(thresholdB)"), ("Guidance Start", "\(guidanceStart)"),
                          ("Guidance End", "\(guidanceEnd)"), ("Pixel Perfect", "False"), ("Control Mode", "Balanced")]
            guard !fields.contains(where: { $0.1.contains(",") || $0.1.contains(":") }) else { return "" }
            return fields.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
        }
    }

    /// `create_infotext`'s fields, in its order, unquoted.
    var fields: [(String, String)] {
        let (samplerName, scheduleType) = Self.samplerAndSchedule(sampler)
        var fields = [("Steps", "\(steps)"), ("Sampler", samplerName), ("Schedule type", scheduleType),
                      ("CFG scale", "\(guidance)"), ("Seed", "\(seed)"), ("Size", "\(width)x\(height)")]
        if let modelHash { fields.append(("Model hash", modelHash)) }
        if let modelName { fields.append(("Model", modelName)) }
        if let vaeHash { fields.append(("VAE hash", vaeHash)) }
        if let vaeName { fields.append(("VAE", vaeName)) }
        if let strength { fields.append(("Denoising strength", "\(strength)")) }
        if usesInpaintingModel { fields.append(("Conditional mask weight", "1.0")) }
        if clipSkip > 1 { fields.append(("Clip skip", "\(clipSkip)")) }
        return fields + extraFields + [("Version", "Overpaint \(BatchRunner.version)")]
    }

    /// `p.extra_generation_params` in the order they are set: ControlNet units in the extension's
    /// `process` (before `init`'s inpaint fields) or, with a refiner, in `before_process_batch`
    /// (after them); LoRA then embedding hashes while the prompts are encoded; the refiner while
    /// sampling.
    private var extraFields: [(String, String)] {
        let units = controlNets.enumerated().map { ("ControlNet \($0.offset)", $0.element.serialized) }
        let inpaint = inpainting?.fields ?? []
        var fields = refiner == nil ? units + inpaint : inpaint + units
        if let loraHashes { fields.append(("Lora hashes", loraHashes)) }
        if let embeddingHashes { fields.append(("TI hashes", embeddingHashes)) }
        if let refiner { fields += refiner.fields }
        if let precision { fields.append(("Precision", precision)) }
        return fields
    }

    var text: String {
        let fieldLine = fields.map { "\($0.0): \(Self.quote($0.1))" }.joined(separator: ", ")
        let negative = negativePrompt.isEmpty ? "" : "\nNegative prompt: \(negativePrompt)"
        return "\(prompt)\(negative)\n\(fieldLine)".trimmingCharacters(in: Self.pythonWhitespace)
    }

    /// A1111's `quote`: a value holding `,`, a newline or `:` as a JSON string
    /// (`json.dumps(text, ensure_ascii=False)`), any other as it is.
    static func quote(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == ":" || $0 == "\n" }) else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case "\u{08}": quoted += "\\b"
            case "\u{0C}": quoted += "\\f"
            case _ where scalar.value < 0x20: quoted += String(format: "\\u%04x", scalar.value)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// A1111 v1.10's `get_sampler_and_scheduler`: a name ending in a schedule label is that
    /// sampler with that `Schedule type`; any other has "Automatic".
    static func samplerAndSchedule(_ name: String) -> (sampler: String, schedule: String) {
        guard let label = scheduleLabels.first(where: { name.hasSuffix(" " + $0) }) else { return (name, "Automatic") }
        return (String(name.dropLast(label.count + 1)), label)
    }

    /// The labels of modules/sd_schedulers.py that an A1111 sampler name of ours may end in.
    private static let scheduleLabels = ["Karras"]

    /// What Python's `str.strip()` removes: Unicode whitespace and the separators U+001C...U+001F.
    private static let pythonWhitespace = CharacterSet.whitespacesAndNewlines
        .union(CharacterSet(charactersIn: "\u{1C}\u{1D}\u{1E}\u{1F}"))
}
