import Prompts
import Schedulers
import Yams

/// Reads one item of `edits:`, a mapping with a single key naming the edit.
struct EditReader {
    static let names = ["img2img", "inpaint", "edit", "fill", "upscale", "resize", "canny"]
    /// LCM's and TCD's default `original_inference_steps`.
    static let distillationSteps = 50

    let recipe: RecipeReader
    let path: String
    let topLevelModel: String?
    /// The recipe's `clip_skip`, which an edit's own overrides.
    let topLevelClipSkip: Int
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
        case "img2img": return .img2img(generation(reader, defaultStrength: Edit.Generation.img2imgStrength))
        case "inpaint": return .inpaint(inpaint(reader))
        case "edit": return .edit(inversion(reader))
        case "fill": return .fill(fill(reader))
        case "upscale": return upscale(reader).map(Edit.upscale)
        case "resize": return resize(reader).map(Edit.resize)
        default: return .canny(Edit.Canny(low: reader.int("low", default: 100, in: 0...1020),
                                          high: reader.int("high", default: 200, in: 0...1020)))
        }
    }

    /// The generation keys of img2img, inpaint (`defaultStrength` for a missing `strength`)
    /// and edit (`defaultStrength` nil: DDIM over the whole schedule, so neither `strength`
    /// nor `scheduler` applies).
    private func generation(_ reader: MappingReader, defaultStrength: Double?) -> Edit.Generation {
        var generation = Edit.Generation()
        generation.model = reader.string("model").flatMap { recipe.resolvePath($0, at: reader.value("model"), path: reader.childPath("model")) }
            ?? topLevelModel
        if generation.model == nil {
            diagnostics.report("needs a model: set 'model' at the top of the recipe, on this edit, or pass --model",
                               at: reader.node, path: reader.path)
        }
        let prompt = self.prompt(reader, "prompt", namesLoRAs: true)
        if prompt == nil && promptTemplate == nil {
            diagnostics.report("missing required key 'prompt' (or give match.prompt sidecars)", at: reader.node, path: reader.path)
        }
        generation.prompt = prompt ?? generation.prompt
        let negativePrompt = self.prompt(reader, "negative_prompt", negative: true)
        generation.negativePrompt = negativePrompt ?? generation.negativePrompt
        generation.negativePromptGiven = negativePrompt != nil
        generation.prompt2 = self.prompt(reader, "prompt_2")
        generation.negativePrompt2 = self.prompt(reader, "negative_prompt_2", negative: true)
        generation.originalSize = pair(reader, "original_size", "height", "width")
        generation.cropTopLeft = pair(reader, "crop_top_left", "top", "left")
        generation.targetSize = pair(reader, "target_size", "height", "width")
        generation.steps = reader.int("steps", default: generation.steps, in: 1...1000)
        generation.guidance = reader.double("guidance", default: generation.guidance, in: 0...100)
        generation.clipSkip = reader.int("clip_skip", default: topLevelClipSkip, in: 1...Edit.Generation.maximumClipSkip)
        generation.control = controls(reader)
        if let defaultStrength {
            generation.strength = strength(reader, default: defaultStrength, steps: generation.steps)
            generation.scheduler = schedulerName(reader, steps: generation.steps)
        } else {
            for key in ["strength", "scheduler"] where reader.value(key) != nil {
                diagnostics.report("'\(key)' does not apply: edit inverts and regenerates with DDIM over the whole schedule",
                                   at: reader.value(key), path: reader.childPath(key))
            }
        }
        generation.eta = eta(reader, scheduler: generation.scheduler)
        return generation
    }

    /// `{first: a, second: b}` at `key` as [a, b] (both required, 0...16384), nil when absent.
    private func pair(_ reader: MappingReader, _ key: String, _ first: String, _ second: String) -> [Int]? {
        guard let mapping = reader.mapping(key) else { return nil }
        let values = [first, second].compactMap { name -> Int? in
            guard mapping.required(name) != nil else { return nil }
            return mapping.int(name, default: 0, in: 0...16384)
        }
        mapping.finish()
        return values.count == 2 ? values : nil
    }

    /// The prompt text at `key` as written (the PNG parameters record it so), refused where
    /// it uses A1111 syntax that would not be applied (`WeightedPrompt`); a negative prompt is
    /// not read for composable diffusion, as A1111 does not read it there.
    ///
    /// A generation's `prompt` (`namesLoRAs`) may name LoRAs, `<lora:name:weight>`: each must be a
    /// LoRA file in the recipe's LoRA folders (when files are checked).
    private func prompt(_ reader: MappingReader, _ key: String, negative: Bool = false, namesLoRAs: Bool = false) -> String? {
        guard let text = reader.string(key) else { return nil }
        do {
            let loras = namesLoRAs ? try PromptLoRAs(text) : nil
            _ = try WeightedPrompt(loras?.text ?? text)
            if !negative { try WeightedPrompt.checkPositive(loras?.text ?? text) }
            for lora in loras?.loras ?? [] { checkLoRA(named: lora.name, at: reader.value(key), path: reader.childPath(key)) }
        } catch {
            diagnostics.report("character \(error.offset + 1): \(error.message)", at: reader.value(key), path: reader.childPath(key))
        }
        return text
    }

    private func checkLoRA(named name: String, at node: Node?, path: String) {
        guard recipe.loader.checkFiles else { return }
        let folders = recipe.loraFolders
        guard let file = folders.file(named: name) else {
            diagnostics.report("no LoRA '\(name)' (\(name).safetensors) in \(folders.searched)", at: node, path: path)
            return
        }
        recipe.checkAdapter(file.path, at: node, path: path)
    }

    /// `eta`, 0...1, defaulting to TCD's own gamma for `scheduler: tcd` and to 0 otherwise.
    private func eta(_ reader: MappingReader, scheduler: SchedulerName?) -> Double {
        reader.double("eta", default: scheduler == .tcd ? Edit.Generation.tcdGamma : 0, in: 0...1)
    }

    /// `strength` in 0...1 that runs at least one of `steps` denoising steps, as the pipelines
    /// need (`DenoisingStrength`); a default strength too small for `steps` is reported at `steps`.
    private func strength(_ reader: MappingReader, default fallback: Double, steps: Int) -> Double {
        func problem(_ strength: Double) -> String? {
            DenoisingStrength.stepsRun(strength, of: steps) >= 1 ? nil
                : "strength \(strength) with steps \(steps) runs no denoising step (needs strength >= \(DenoisingStrength.minimum(for: steps)))"
        }
        guard reader.value("strength") != nil else {
            if let problem = problem(fallback) {
                diagnostics.report(problem, at: reader.value("steps"), path: reader.childPath("steps"))
            }
            return fallback
        }
        return reader.double("strength", default: fallback, in: 0...1, rule: problem)
    }

    /// A recipe name or A1111's name of an implemented scheduler; nil when absent. LCM and
    /// TCD take at most 50 steps: their timesteps are picked from the 50-step schedule
    /// (`original_inference_steps`) the models are distilled on.
    private func schedulerName(_ reader: MappingReader, steps: Int) -> SchedulerName? {
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
        if [.lcm, .tcd].contains(name) && steps > Self.distillationSteps {
            diagnostics.report("\(name.displayName) takes at most \(Self.distillationSteps) steps, the schedule its models "
                               + "are distilled on, not \(steps) (few-step models run 1-8)",
                               at: reader.value("steps"), path: reader.childPath("steps"))
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
            // diffusers' check_inputs: the guidance window must not be empty
            if start >= end { diagnostics.report("start \(start) is not before end \(end)", at: item, path: entry.path) }
            return Edit.Control(type: type, model: model ?? "", scale: entry.double("scale", default: 1, in: 0...10),
                                start: start, end: end,
                                low: entry.int("low", default: 100, in: 0...1020),
                                high: entry.int("high", default: 200, in: 0...1020),
                                source: source, depthModel: depthModel)
        }
    }

    private func inpaint(_ reader: MappingReader) -> Edit.Inpaint {
        let width = workingSide("width", reader)
        let height = workingSide("height", reader)
        return Edit.Inpaint(generation: generation(reader, defaultStrength: Edit.Generation().strength),
                            maskBlur: reader.int("mask_blur", default: 4, in: 0...256),
                            maskGrow: reader.int("mask_grow", default: 0, in: -256...256),
                            area: reader.choice("area", default: Edit.Inpaint.Area.whole),
                            padding: reader.int("padding", default: 32, in: 0...1024),
                            fill: reader.choice("fill", default: Edit.Inpaint.FillMode.original),
                            resizeMask: reader.bool("resize_mask", default: false),
                            width: width, height: height)
    }

    /// A side of `area: masked`'s working size: the VAE works in 8-pixel latents, so another
    /// size would be silently floored to a multiple of 8.
    private func workingSide(_ key: String, _ reader: MappingReader) -> Int? {
        guard reader.value(key) != nil else { return nil }
        return reader.int(key, default: 512, in: 8...8192) { side in
            side % 8 == 0 ? nil : "\(side) is not a multiple of 8 (the VAE works in 8-pixel latents; it would run at \(side / 8 * 8))"
        }
    }

    private func inversion(_ reader: MappingReader) -> Edit.Inversion {
        let source = reader.required("source_prompt") == nil ? nil : prompt(reader, "source_prompt")
        return Edit.Inversion(sourcePrompt: source ?? "", generation: generation(reader, defaultStrength: nil))
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
        let steps = reader.int("steps", default: defaults.steps, in: 1...1000)
        let scheduler = schedulerName(reader, steps: steps)
        return Edit.Upscale.Diffusion(
            prompt: prompt(reader, "prompt") ?? defaults.prompt,
            negativePrompt: prompt(reader, "negative_prompt", negative: true) ?? defaults.negativePrompt,
            noiseLevel: reader.int("noise_level", default: defaults.noiseLevel, in: 0...1000),
            steps: steps, guidance: reader.double("guidance", default: defaults.guidance, in: 0...100),
            scheduler: scheduler, eta: eta(reader, scheduler: scheduler))
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

