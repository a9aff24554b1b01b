import Foundation
import Weights

/// What a model path holds, read from folder layout, JSON configs and safetensors headers only.
///
/// No tensor data is read (the files are memory-mapped and only their headers touched), so
/// inspecting a 4 GB checkpoint is instant. Pickle files are refused, as everywhere.
public enum ModelInspector {
    /// The components a diffusers Stable Diffusion pipeline needs.
    public static let requiredComponents = ["unet", "vae", "text_encoder", "tokenizer", "scheduler"]

    /// What an SDXL base pipeline needs; the refiner has no `text_encoder` / `tokenizer`.
    public static let sdxlComponents = ["unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2",
                                        "scheduler"]
    public static let sdxlRefinerComponents = ["unet", "vae", "text_encoder_2", "tokenizer_2", "scheduler"]

    /// Inspects a diffusers pipeline folder, a diffusers model folder or a single-file checkpoint;
    /// an SD3 or Flux model is a one-line `ModelsError.unsupportedFamily`.
    public static func inspect(_ url: URL) throws -> ModelReport {
        try UnsupportedFamily.refuse(url)
        switch try ModelLocation.detect(url) {
        case let .diffusersPipeline(pipeline): return inspectPipeline(pipeline)
        case let .diffusersModel(folder, className): return try inspectModelFolder(folder, className: className)
        case let .singleFile(checkpoint): return inspectSingleFile(checkpoint)
        }
    }

    private static func inspectPipeline(_ pipeline: DiffusersPipelineFolder) -> ModelReport {
        let components = pipeline.components.keys.sorted().map { name in
            componentReport(name: name, className: pipeline.components[name],
                            folder: pipeline.url.appendingPathComponent(name))
        }
        let unet = try? pipeline.weights(of: "unet")
        var classification = unet.map { classify($0) }
            ?? Classification(family: .unknown, generation: nil, basis: "no readable unet weights")
        // A refiner pipeline is the one SDXL pipeline without the CLIP-L text encoder.
        let isRefiner = classification.generation == .sdxl && pipeline.components["text_encoder"] == nil
            && pipeline.components["text_encoder_2"] != nil
        if isRefiner {
            classification = Classification(family: .sdxlRefiner, generation: .sdxlRefiner,
                                             basis: classification.basis + ", text_encoder_2 alone")
        }
        let required = isRefiner || classification.generation == .sdxlRefiner ? sdxlRefinerComponents
            : classification.generation == .sdxl ? sdxlComponents : requiredComponents
        return ModelReport(path: pipeline.url.path, layout: .diffusersPipeline, classification: classification,
                           className: pipeline.pipelineClass, components: components,
                           missing: required.filter { pipeline.components[$0] == nil })
    }

    private static func inspectModelFolder(_ folder: URL, className: String?) throws -> ModelReport {
        let role = className.flatMap { componentRoles[$0] } ?? folder.lastPathComponent
        let component = componentReport(name: role, className: className, folder: folder)
        var classification = Classification(family: .unknown, generation: nil,
                                            basis: "\(className ?? "unnamed model") is not a UNet or ControlNet")
        if ["UNet2DConditionModel", "ControlNetModel"].contains(className), let store = try? WeightStore(url: folder) {
            classification = classify(store)
        }
        return ModelReport(path: folder.path, layout: .diffusersModel, classification: classification,
                           className: className, components: [component], missing: [])
    }

    private static func inspectSingleFile(_ checkpoint: SingleFileCheckpoint) -> ModelReport {
        let entries = Array(checkpoint.file.header.entries.values)
        let sdxl = SDXLSingleFile(checkpoint.file)
        let prefixes: [(name: String, prefix: String?)] = [
            ("unet", checkpoint.hasUNet ? LDMPrefix.unet : nil),
            ("vae", checkpoint.hasVAE ? LDMPrefix.vae : nil),
            ("text_encoder", checkpoint.textEncoderLayout.flatMap { $0.isSDXL ? sdxl?.clipPrefix : "cond_stage_model." }),
            ("text_encoder_2", sdxl?.openCLIPPrefix),
            ("controlnet", checkpoint.controlNetPrefix),
        ]
        var components = prefixes.compactMap { name, prefix in
            prefix.map { prefix in
                ComponentReport(name: name, className: nil, entries: entries.filter { $0.name.hasPrefix(prefix) })
            }
        }
        // EMA copies, noise-schedule buffers and the like: counted, so the totals add up.
        let known = prefixes.compactMap(\.prefix)
        let others = entries.filter { entry in !known.contains { entry.name.hasPrefix($0) } }
        if !others.isEmpty { components.append(ComponentReport(name: "other", className: nil, entries: others)) }
        let source: (any ParameterSource)? = checkpoint.hasUNet ? try? checkpoint.unet() : try? checkpoint.controlNet()
        let classification = sdxl.map(\.classification) ?? source.map { classify($0) }
            ?? Classification(family: .unknown, generation: nil, basis: "no UNet or ControlNet tensors")
        // A single file carries no tokenizer or scheduler: those come with the architecture.
        let textEncoders = sdxl.map { $0.clipPrefix == nil ? ["text_encoder_2"] : ["text_encoder", "text_encoder_2"] }
            ?? ["text_encoder"]
        let expected = checkpoint.controlNetPrefix == nil || checkpoint.hasUNet ? ["unet", "vae"] + textEncoders : []
        return ModelReport(path: checkpoint.file.path, layout: .singleFile, classification: classification,
                           className: nil, components: components,
                           missing: expected.filter { name in !components.contains { $0.name == name } })
    }

    /// A component folder's weights, or (tokenizer, scheduler) just its presence.
    private static func componentReport(name: String, className: String?, folder: URL) -> ComponentReport {
        guard hasWeights(folder) else { return ComponentReport(name: name, className: className, entries: []) }
        do {
            let store = try WeightStore(url: folder)
            return ComponentReport(name: name, className: className,
                                   entries: store.files.flatMap { $0.header.entries.values })
        } catch {
            return ComponentReport(name: name, className: className, entries: [],
                                   problem: (error as? LocalizedError)?.errorDescription ?? "\(error)")
        }
    }

    /// Whether the folder holds any weights file (safetensors or a pickle to be refused).
    private static func hasWeights(_ folder: URL) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.contains { name in
            name.hasSuffix(".safetensors") || name.hasSuffix(".safetensors.index.json")
                || PickleGuard.hasPickleExtension(URL(fileURLWithPath: name))
        }
    }

    /// The family from diffusers-named UNet or ControlNet tensors, and what decided it.
    ///
    /// The cross-attention width decides SD 1.x (768) from SD 2.x (1024). Where it is neither
    /// (tiny test models), the attention projections do: SD 1.x checkpoints use 1x1
    /// convolutions, SD 2.x ones linear layers (`use_linear_projection`).
    static func classify(_ source: any ParameterSource) -> Classification {
        guard let family = try? ModelFamily(diffusersNamed: source) else {
            return Classification(family: .unknown, generation: nil, basis: "unreadable header")
        }
        var generation: ModelReport.Generation?
        var basis: String
        switch family.generation {
        case .sd1: (generation, basis) = (.sd1, "cross-attention width 768")
        case .sd2: (generation, basis) = (.sd2, "cross-attention width 1024")
        case .sdxl, .sdxlRefiner:
            let context = source.keys.first { $0.hasSuffix("attn2.to_k.weight") }.flatMap { try? source.shape(of: $0).last }
            let width = context.map { ", cross-attention width \($0)" } ?? ""
            generation = family.generation == .sdxl ? .sdxl : .sdxlRefiner
            basis = "text_time added embeddings\(width)"
        case let .other(width):
            let projection = source.keys.first { $0.hasSuffix("proj_in.weight") && $0.contains("attentions.") }
            let rank = projection.flatMap { try? source.shape(of: $0).count }
            generation = rank == 4 ? .sd1 : rank == 2 ? .sd2 : nil
            let widthText = width.map { "cross-attention width \($0)" } ?? "no cross-attention"
            basis = rank == 4 ? "\(widthText), convolution attention projections as in SD 1.x"
                : rank == 2 ? "\(widthText), linear attention projections as in SD 2.x" : widthText
        }
        if family.inputChannels == nil { basis += ", no conv_in" }
        return Classification(family: ModelReport.Family(kind: family.kind, generation: generation),
                              generation: generation, basis: basis)
    }

    struct Classification {
        let family: ModelReport.Family
        let generation: ModelReport.Generation?
        let basis: String
    }

    /// The pipeline role of a lone model folder, by its class.
    static let componentRoles = [
        "UNet2DConditionModel": "unet", "ControlNetModel": "controlnet", "AutoencoderKL": "vae",
        "CLIPTextModel": "text_encoder",
    ]
}

/// The inspector's findings about one model path.
public struct ModelReport: Codable, Sendable, Equatable {
    public enum Layout: String, Codable, Sendable {
        case diffusersPipeline = "diffusers-pipeline"
        case diffusersModel = "diffusers-model"
        case singleFile = "single-file"
    }

    public enum Generation: String, Codable, Sendable {
        case sd1 = "SD1", sd2 = "SD2", sdxl = "SDXL", sdxlRefiner = "SDXL-refiner"
    }

    public enum Family: String, Codable, Sendable {
        case sd1 = "SD1"
        case sd2 = "SD2"
        case sd1Inpainting = "SD1-inpainting"
        case sd2Inpainting = "SD2-inpainting"
        case sdxl = "SDXL"
        case sdxlRefiner = "SDXL-refiner"
        case sdxlInpainting = "SDXL-inpainting"
        case controlNet = "ControlNet"
        case x4Upscaler = "x4 upscaler"
        case unknown

        init(kind: ModelFamily.Kind, generation: Generation?) {
            switch (kind, generation) {
            case (.controlNet, _): self = .controlNet
            case (.x4Upscaler, _): self = .x4Upscaler
            case (.textToImage, .sd1?): self = .sd1
            case (.textToImage, .sd2?): self = .sd2
            case (.inpainting, .sd1?): self = .sd1Inpainting
            case (.inpainting, .sd2?): self = .sd2Inpainting
            case (.textToImage, .sdxl?): self = .sdxl
            case (.textToImage, .sdxlRefiner?), (.inpainting, .sdxlRefiner?): self = .sdxlRefiner
            case (.inpainting, .sdxl?): self = .sdxlInpainting
            case (_, nil): self = .unknown
            }
        }
    }

    public var path: String
    public var layout: Layout
    public var family: Family
    /// SD 1.x, 2.x, SDXL or the SDXL refiner, where known; for a ControlNet or an upscaler, the UNet generation it belongs with.
    public var generation: Generation?
    /// What the family was read from ("cross-attention width 768").
    public var familyBasis: String
    /// `_class_name` of model_index.json or config.json.
    public var className: String?
    public var components: [ComponentReport]
    /// Components a Stable Diffusion pipeline needs that this path lacks.
    public var missing: [String]

    enum CodingKeys: String, CodingKey {
        case path, layout, family, generation, components, missing
        case familyBasis = "family_basis"
        case className = "class_name"
    }

    init(path: String, layout: Layout, classification: ModelInspector.Classification, className: String?,
         components: [ComponentReport], missing: [String]) {
        self.path = path
        self.layout = layout
        family = classification.family
        generation = classification.generation
        familyBasis = classification.basis
        self.className = className
        self.components = components
        self.missing = missing
    }

    /// Which generation a ControlNet goes with (the other families name it already).
    private var generationNote: String {
        guard family == .controlNet, let generation else { return "" }
        return " for \(generation.rawValue)"
    }

    /// The report for people: one line per fact, components indented.
    public var summary: String {
        var lines = [
            "path:       \(path)",
            "layout:     \(layout.rawValue)\(className.map { " (\($0))" } ?? "")",
            "family:     \(family.rawValue)\(generationNote) (\(familyBasis))",
            "components:",
        ]
        lines += components.map { "  \($0.summary)" }
        if components.isEmpty { lines.append("  none") }
        lines.append("missing:    \(missing.isEmpty ? "none" : missing.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }
}

/// One component: its tensors' element types and parameter count, from the headers.
public struct ComponentReport: Codable, Sendable, Equatable {
    public var name: String
    public var className: String?
    /// Element types of its tensors, sorted ("BF16", "F16", "F32", "I64"...).
    public var dtypes: [String]
    /// Elements of its floating-point tensors (integer buffers such as position ids excluded).
    public var parameterCount: Int
    public var tensorCount: Int
    /// Why its weights could not be read (a pickle-only folder, a bad header), if so.
    public var problem: String?

    enum CodingKeys: String, CodingKey {
        case name, dtypes, problem
        case className = "class_name"
        case parameterCount = "parameter_count"
        case tensorCount = "tensor_count"
    }

    public init(name: String, className: String?, entries: [SafeTensorsEntry], problem: String? = nil) {
        self.name = name
        self.className = className
        dtypes = Set(entries.map(\.dtype.rawValue)).sorted()
        parameterCount = entries.filter(\.dtype.isFloatingPoint).reduce(0) { $0 + $1.elementCount }
        tensorCount = entries.count
        self.problem = problem
    }

    var summary: String {
        let head = "\(name)\(className.map { " (\($0))" } ?? "")"
        if let problem { return "\(head): \(problem)" }
        if tensorCount == 0 { return "\(head): no weights" }
        return "\(head): \(Self.grouped(parameterCount)) parameters in \(tensorCount) tensors, \(dtypes.joined(separator: "/"))"
    }

    /// 123456789 -> "123,456,789".
    static func grouped(_ count: Int) -> String {
        let digits = Array(String(count))
        return digits.enumerated().map { index, digit in
            (index > 0 && (digits.count - index) % 3 == 0 ? "," : "") + String(digit)
        }.joined()
    }
}
