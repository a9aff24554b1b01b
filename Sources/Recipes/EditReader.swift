import Schedulers
import Yams

/// Reads one item of `edits:`, a mapping with a single key naming the edit.
struct EditReader {
    static let names = ["img2img", "inpaint", "edit", "fill", "upscale", "resize", "canny"]

    let recipe: RecipeReader
    let path: String
    let topLevelModel: String?
    /// Prompts may come from sidecar files instead of the edit.
    let promptTemplate: Template?

    var diagnostics: Diagnostics { recipe.diagnostics }

    func read(_ item: Node) -> Edit? {
        guard case .mapping(let mapping) = item, mapping.count == 1, let (keyNode, body) = mapping.first else {
            diagnostics.report("each edit is a mapping with one key: " + Self.names.joined(separator: ", "),
                               at: item, path: path)
            return nil
        }
        let name = keyNode.string ?? ""
        guard Self.names.contains(name) else {
            diagnostics.report("unknown edit '\(name)'" + didYouMean(name, among: Self.names), at: keyNode, path: path)
            return nil
        }
        let editPath = "\(path).\(name)"
        let emptyBody = body.null != nil ? Node.mapping(Node.Mapping([])) : body
        guard let reader = MappingReader(emptyBody, path: editPath, diagnostics: diagnostics) else { return nil }
        defer { reader.finish() }
        switch name {
        case "img2img": return .img2img(generation(reader, defaultStrength: 0.75))
        case "inpaint": return .inpaint(inpaint(reader))
        case "edit": return .edit(inversion(reader))
        case "fill": return .fill(fill(reader))
        case "upscale": return upscale(reader).map(Edit.upscale)
        case "resize": return resize(reader).map(Edit.resize)
        default: return .canny(Edit.Canny(low: reader.int("low", default: 100, in: 0...1020),
                                          high: reader.int("high", default: 200, in: 0...1020)))
        }
    }

    private func generation(_ reader: MappingReader, defaultStrength: Double) -> Edit.Generation {
        let model = reader.string("model").flatMap { recipe.resolvePath($0, at: reader.value("model"), path: reader.childPath("model")) }
            ?? topLevelModel
        if model == nil {
            diagnostics.report("needs a model: set 'model' at the top of the recipe, on this edit, or pass --model",
                               at: reader.node, path: reader.path)
        }
        let prompt = reader.string("prompt")
        if prompt == nil && promptTemplate == nil {
            diagnostics.report("missing required key 'prompt' (or give match.prompt sidecars)", at: reader.node, path: reader.path)
        }
        return Edit.Generation(
            prompt: prompt ?? "",
            negativePrompt: reader.string("negative_prompt") ?? "",
            strength: reader.double("strength", default: defaultStrength, in: 0...1),
            steps: reader.int("steps", default: 30, in: 1...1000),
            guidance: reader.double("guidance", default: 7.5, in: 0...100),
            scheduler: schedulerName(reader),
            eta: reader.double("eta", default: 0, in: 0...1),
            model: model,
            control: controls(reader))
    }

    /// A recipe name or A1111's name of an implemented scheduler; nil when absent.
    private func schedulerName(_ reader: MappingReader) -> SchedulerName? {
        guard let text = reader.string("scheduler") else { return nil }
        guard let name = SchedulerName(parsing: text) else {
            let names = SchedulerName.allCases.map(\.rawValue)
            let displayNames = SchedulerName.allCases.map(\.displayName)
            diagnostics.report("unknown scheduler '\(text)'; one of \(names.joined(separator: ", ")) (or A1111's "
                               + "\(displayNames.map { "'\($0)'" }.joined(separator: ", ")))"
                               + didYouMean(text, among: names + displayNames),
                               at: reader.value("scheduler"), path: reader.childPath("scheduler"))
            return nil
        }
        return name
    }

    private func controls(_ reader: MappingReader) -> [Edit.Control] {
        guard let items = reader.sequence("control") else { return [] }
        return items.enumerated().compactMap { index, item in
            guard let entry = MappingReader(item, path: "\(reader.childPath("control"))[\(index)]", diagnostics: diagnostics) else { return nil }
            defer { entry.finish() }
            _ = entry.required("type")
            let type = entry.choice("type", default: Edit.Control.Kind.canny)
            let model = entry.required("model") == nil ? nil
                : entry.string("model").flatMap { recipe.resolvePath($0, at: entry.value("model"), path: entry.childPath("model")) }
            let source = entry.choice("source", default: Edit.Control.Source.file)
            let depthModel = entry.string("depth_model").flatMap { recipe.resolvePath($0, at: entry.value("depth_model"), path: entry.childPath("depth_model")) }
            if type == .depth && source == .estimate && depthModel == nil {
                diagnostics.report("source: estimate needs depth_model", at: item, path: entry.path)
            }
            let start = entry.double("start", default: 0, in: 0...1)
            let end = entry.double("end", default: 1, in: 0...1)
            if start > end { diagnostics.report("start \(start) is after end \(end)", at: item, path: entry.path) }
            return Edit.Control(type: type, model: model ?? "", scale: entry.double("scale", default: 1, in: 0...10),
                                start: start, end: end,
                                low: entry.int("low", default: 100, in: 0...1020),
                                high: entry.int("high", default: 200, in: 0...1020),
                                source: source, depthModel: depthModel)
        }
    }

    private func inpaint(_ reader: MappingReader) -> Edit.Inpaint {
        let width = reader.value("width") == nil ? nil : reader.int("width", default: 512, in: 8...8192)
        let height = reader.value("height") == nil ? nil : reader.int("height", default: 512, in: 8...8192)
        return Edit.Inpaint(generation: generation(reader, defaultStrength: 1.0),
                            maskBlur: reader.int("mask_blur", default: 4, in: 0...256),
                            maskGrow: reader.int("mask_grow", default: 0, in: -256...256),
                            area: reader.choice("area", default: Edit.Inpaint.Area.whole),
                            padding: reader.int("padding", default: 32, in: 0...1024),
                            fill: reader.choice("fill", default: Edit.Inpaint.FillMode.original),
                            resizeMask: reader.bool("resize_mask", default: false),
                            width: width, height: height)
    }

    private func inversion(_ reader: MappingReader) -> Edit.Inversion {
        let source = reader.required("source_prompt") == nil ? nil : reader.string("source_prompt")
        return Edit.Inversion(sourcePrompt: source ?? "", generation: generation(reader, defaultStrength: 1.0))
    }

    private func fill(_ reader: MappingReader) -> Edit.Fill {
        Edit.Fill(method: reader.choice("method", default: Edit.Fill.Method.telea),
                  radius: reader.int("radius", default: 5, in: 1...64),
                  maskGrow: reader.int("mask_grow", default: 0, in: 0...256),
                  resizeMask: reader.bool("resize_mask", default: false))
    }

    private func upscale(_ reader: MappingReader) -> Edit.Upscale? {
        guard reader.required("model") != nil, let name = reader.string("model") else { return nil }
        // A bare name ("realesrgan-x4plus") is looked up in models/ when the edit runs.
        let isPath = name.contains("/") || name.hasSuffix(".safetensors") || name.hasSuffix(".param")
        let model = isPath ? recipe.resolvePath(name, at: reader.value("model"), path: reader.childPath("model")) : name
        let tile = reader.int("tile", default: 256, in: 0...4096)
        let overlap = reader.int("tile_overlap", default: 16, in: 0...512)
        if tile > 0 && overlap * 2 >= tile {
            diagnostics.report("tile_overlap \(overlap) must be less than half of tile \(tile)",
                               at: reader.value("tile_overlap"), path: reader.childPath("tile_overlap"))
        }
        let diffusion = upscaleDiffusion(reader)
        return model.map { Edit.Upscale(model: $0, scale: reader.double("scale", default: 4, in: 0.25...16),
                                        tile: tile, tileOverlap: overlap, diffusion: diffusion) }
    }

    /// The SD x4 upscaler's keys (prompt, noise_level...), read whatever the model is so a
    /// misspelt one is reported; Real-ESRGAN ignores them.
    private func upscaleDiffusion(_ reader: MappingReader) -> Edit.Upscale.Diffusion {
        let defaults = Edit.Upscale.Diffusion()
        return Edit.Upscale.Diffusion(
            prompt: reader.string("prompt") ?? defaults.prompt,
            negativePrompt: reader.string("negative_prompt") ?? defaults.negativePrompt,
            noiseLevel: reader.int("noise_level", default: defaults.noiseLevel, in: 0...1000),
            steps: reader.int("steps", default: defaults.steps, in: 1...1000),
            guidance: reader.double("guidance", default: defaults.guidance, in: 0...100),
            scheduler: schedulerName(reader),
            eta: reader.double("eta", default: defaults.eta, in: 0...1))
    }

    private func resize(_ reader: MappingReader) -> Edit.Resize? {
        guard reader.required("width") != nil, reader.required("height") != nil else { return nil }
        let width = reader.int("width", default: 1, in: 1...65536)
        let height = reader.int("height", default: 1, in: 1...65536)
        return Edit.Resize(width: width, height: height,
                           mode: reader.choice("mode", default: Edit.Resize.Mode.fit),
                           filter: reader.choice("filter", default: Edit.Resize.Filter.lanczos))
    }
}

