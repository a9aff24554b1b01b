import Foundation
import Weights

/// Writes a model with a real architecture and seeded random weights, so full-size runs
/// (timing, memory) need no download. Not a real model: every file says so.
///
/// Values are a pure function of (seed, diffusers tensor name, element index), from a
/// counter-based SplitMix64, so they are generated in parallel, streamed to disk block by block,
/// and identical in the diffusers and the single-file layout. The scale follows torch's
/// defaults: convolution and linear weights and their biases uniform in +-1/sqrt(fan_in), norm
/// weights 1 and biases 0, token and position embeddings with standard deviation 0.02 (as
/// transformers' CLIP init), so a full-size forward pass stays finite.
public enum RandomModel {
    public enum Architecture: Sendable {
        case stableDiffusion(StableDiffusionArchitecture)
        case sdxlRefiner(SDXLRefinerArchitecture)
        case controlNet(ControlNetConfig)
        case rrdbNet(RRDBNetArchitecture)
        case autoencoderTiny(AutoencoderTinyConfig)
    }

    public enum Format: String, Sendable, CaseIterable {
        /// A diffusers folder (model_index.json, a subfolder per component) or, for a lone
        /// model, a folder with its config.json and weights.
        case diffusers
        /// One `.safetensors` file in the original LDM key layout.
        case singleFile = "single-file"
    }

    /// The safetensors `__metadata__` key that marks random weights.
    public static let metadataKey = "overpaint_random_weights"

    /// Writes `architecture` at `url` (a folder for `.diffusers`, a file for `.singleFile`);
    /// `name` (e.g. "sd15") is recorded in the metadata and the note.
    public static func write(_ architecture: Architecture, name: String, to url: URL, format: Format, seed: UInt64,
                             dtype: SafeTensorsWriter.StorageType) throws {
        try validate(architecture, path: url.path)
        let metadata = ["format": "pt", metadataKey: "true", "overpaint_like": name, "overpaint_seed": String(seed)]
        let generator = WeightGenerator(seed: seed)
        switch (architecture, format) {
        case let (.stableDiffusion(pipeline), .diffusers):
            try writeDiffusersPipeline(pipeline, to: url, generator: generator, dtype: dtype, metadata: metadata)
        case let (.sdxlRefiner(refiner), .diffusers):
            try writeDiffusersRefiner(refiner, to: url, generator: generator, dtype: dtype, metadata: metadata)
        case let (.controlNet(config), .diffusers):
            try writeModelFolder(config, className: "ControlNetModel", layout: ParameterLayout.controlNet(config), to: url,
                                 generator: generator, dtype: dtype, metadata: metadata, name: name)
        case let (.rrdbNet(network), .diffusers):
            try createFolder(url)
            try SafeTensorsWriter.write(streaming: generator.tensors(ParameterLayout.rrdbNet(network)), dtype: dtype,
                                        metadata: metadata, to: url.appendingPathComponent("\(name).safetensors"))
            try writeNote(in: url, name: name, seed: seed)
        case let (.autoencoderTiny(config), .diffusers):
            try writeModelFolder(config, className: "AutoencoderTiny", layout: ParameterLayout.autoencoderTiny(config), to: url,
                                 generator: generator, dtype: dtype, metadata: metadata, name: name)
        case (_, .singleFile):
            try SafeTensorsWriter.write(streaming: singleFileTensors(architecture, generator: generator, path: url.path),
                                        dtype: dtype, metadata: metadata, to: url)
        }
    }

    /// The tensors of `architecture`'s single file, by LDM name, their values made only when written
    /// (so the layout of a full-size model can be listed without generating it).
    static func singleFileTensors(_ architecture: Architecture, generator: WeightGenerator, path: String) throws -> [StreamedTensor] {
        switch architecture {
        case let .stableDiffusion(pipeline):
            return singleFilePipeline(pipeline, generator: generator)
        case let .sdxlRefiner(refiner):
            // As sd_xl_refiner_1.0.safetensors: OpenCLIP bigG alone, as the first embedder
            return singleFileUNetAndVAE(refiner.unet, refiner.vae, generator: generator)
                + singleFileBigG(refiner.textEncoder2, prefix: LDMPrefix.refinerOpenCLIP, generator: generator)
        case let .controlNet(config):
            // diffusers' convert_controlnet_checkpoint maps no `label_emb`: SDXL ControlNet single
            // files hold the diffusers folder's weights under diffusers names.
            guard config.additionEmbedType == nil else {
                throw ModelsError.unsupportedConfig(
                    path: path, detail: "an SDXL ControlNet has no LDM single-file layout, its single files are the diffusers weights file; use --format diffusers")
            }
            let layersPerBlock = config.layersPerBlock
            return generator.tensors(ParameterLayout.controlNet(config)).map { tensor in
                renamed(tensor, LDMPrefix.controlNet + (LDMReverseKeyMap.controlNet(tensor.name, layersPerBlock: layersPerBlock) ?? tensor.name))
            }
        case let .rrdbNet(network):
            return generator.tensors(ParameterLayout.rrdbNet(network))
        case .autoencoderTiny:
            throw ModelsError.unsupportedConfig(path: path, detail: "a tiny autoencoder is a diffusers folder; use --format diffusers")
        }
    }

    /// Refuses what the loaders would refuse, before anything is written.
    private static func validate(_ architecture: Architecture, path: String) throws {
        let problem: String?
        switch architecture {
        case let .stableDiffusion(pipeline):
            problem = pipeline.vae.unsupportedFeature ?? pipeline.unet.unsupportedFeature
                ?? pipeline.textEncoder.unsupportedFeature ?? pipeline.textEncoder2?.unsupportedFeature
        case let .sdxlRefiner(refiner):
            problem = refiner.vae.unsupportedFeature ?? refiner.unet.unsupportedFeature ?? refiner.textEncoder2.unsupportedFeature
        case let .controlNet(config):
            problem = config.unsupportedFeature
        case let .autoencoderTiny(config):
            problem = config.unsupportedFeature
        case let .rrdbNet(network):
            problem = network.blocks > 0 && network.features > 0 && network.growth > 0 && [1, 2, 4].contains(network.scale)
                ? nil : "RRDBNet needs positive sizes and scale 1, 2 or 4"
        }
        if let problem { throw ModelsError.unsupportedConfig(path: path, detail: problem) }
    }

    /// "NOT A REAL MODEL ..." when `url` (a .safetensors file, or a folder with one directly or in
    /// `unet/`) was written by `write`; nil otherwise.
    public static func note(at url: URL) -> String? {
        let files: [URL]
        if url.pathExtension == "safetensors" {
            files = [url]
        } else {
            files = [url, url.appendingPathComponent("unet")].flatMap { folder in
                ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
                    .filter { $0.hasSuffix(".safetensors") }.map { folder.appendingPathComponent($0) }
            }
        }
        for file in files {
            guard let metadata = try? SafeTensorsFile(url: file).header.metadata, metadata[metadataKey] == "true" else { continue }
            return "NOT A REAL MODEL: random weights (models random --like \(metadata["overpaint_like"] ?? "?") "
                + "--seed \(metadata["overpaint_seed"] ?? "?"))"
        }
        return nil
    }

    // MARK: - Diffusers folder

    private static func writeDiffusersPipeline(_ pipeline: StableDiffusionArchitecture, to url: URL, generator: WeightGenerator,
                                               dtype: SafeTensorsWriter.StorageType, metadata: [String: String]) throws {
        try writeUNetVAEAndScheduler(pipeline.unet, pipeline.vae, schedulerConfigJSON: pipeline.schedulerConfigJSON, to: url,
                                     generator: generator, dtype: dtype, metadata: metadata)
        for component in ["text_encoder", "tokenizer"] { try createFolder(url.appendingPathComponent(component)) }
        try modelIndex(pipeline).write(to: url.appendingPathComponent("model_index.json"))
        try diffusersConfigJSON(pipeline.textEncoder, className: "CLIPTextModel", library: "transformers_version", version: "5.24.0")
            .write(to: url.appendingPathComponent("text_encoder/config.json"))
        try writeTokenizer(padToken: pipeline.padToken, to: url.appendingPathComponent("tokenizer"))
        let text = generator.tensors(ParameterLayout.textEncoder(pipeline.textEncoder))
            .map { renamed($0, "\(CLIPTextModel.legacyModule).\($0.name)") }
        try SafeTensorsWriter.write(streaming: text, dtype: dtype, metadata: metadata,
                                    to: url.appendingPathComponent("text_encoder/model.safetensors"))
        if let textEncoder2 = pipeline.textEncoder2 {
            try writeSecondTextEncoder(textEncoder2, to: url, generator: generator, dtype: dtype, metadata: metadata)
        }
        try writeNote(in: url, name: metadata["overpaint_like"] ?? "", seed: generator.seed)
    }

    /// stabilityai/stable-diffusion-xl-refiner-1.0's folder: no text_encoder or tokenizer.
    private static func writeDiffusersRefiner(_ refiner: SDXLRefinerArchitecture, to url: URL, generator: WeightGenerator,
                                              dtype: SafeTensorsWriter.StorageType, metadata: [String: String]) throws {
        try writeUNetVAEAndScheduler(refiner.unet, refiner.vae, schedulerConfigJSON: refiner.schedulerConfigJSON, to: url,
                                     generator: generator, dtype: dtype, metadata: metadata)
        try writeSecondTextEncoder(refiner.textEncoder2, to: url, generator: generator, dtype: dtype, metadata: metadata)
        let index: [String: Any] = [
            "_class_name": "StableDiffusionXLImg2ImgPipeline", "_diffusers_version": "0.42.1",
            "force_zeros_for_empty_prompt": false, "requires_aesthetics_score": true,
            "scheduler": ["diffusers", schedulerClass(refiner.schedulerConfigJSON)],
            "text_encoder": [NSNull(), NSNull()], "tokenizer": [NSNull(), NSNull()],
            "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        ]
        try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            .write(to: url.appendingPathComponent("model_index.json"))
        try writeNote(in: url, name: metadata["overpaint_like"] ?? "", seed: generator.seed)
    }

    /// The unet, vae and scheduler folders of every pipeline.
    private static func writeUNetVAEAndScheduler(_ unet: UNet2DConditionConfig, _ vae: AutoencoderKLConfig, schedulerConfigJSON: String,
                                                 to url: URL, generator: WeightGenerator, dtype: SafeTensorsWriter.StorageType,
                                                 metadata: [String: String]) throws {
        for component in ["unet", "vae", "scheduler"] { try createFolder(url.appendingPathComponent(component)) }
        try diffusersConfigJSON(unet, className: "UNet2DConditionModel").write(to: url.appendingPathComponent("unet/config.json"))
        try diffusersConfigJSON(vae, className: "AutoencoderKL").write(to: url.appendingPathComponent("vae/config.json"))
        try Data(schedulerConfigJSON.utf8).write(to: url.appendingPathComponent("scheduler/scheduler_config.json"))
        try SafeTensorsWriter.write(streaming: generator.tensors(ParameterLayout.unet(unet)), dtype: dtype,
                                    metadata: metadata, to: url.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        try SafeTensorsWriter.write(streaming: generator.tensors(ParameterLayout.vae(vae)), dtype: dtype,
                                    metadata: metadata, to: url.appendingPathComponent("vae/diffusion_pytorch_model.safetensors"))
    }

    /// SDXL's text_encoder_2 (with its projection) and tokenizer_2 (padding with "!").
    private static func writeSecondTextEncoder(_ config: CLIPTextConfig, to url: URL, generator: WeightGenerator,
                                               dtype: SafeTensorsWriter.StorageType, metadata: [String: String]) throws {
        for component in ["text_encoder_2", "tokenizer_2"] { try createFolder(url.appendingPathComponent(component)) }
        try diffusersConfigJSON(config, className: "CLIPTextModelWithProjection", library: "transformers_version",
                                version: "5.24.0").write(to: url.appendingPathComponent("text_encoder_2/config.json"))
        try writeTokenizer(padToken: "!", to: url.appendingPathComponent("tokenizer_2"))
        try SafeTensorsWriter.write(streaming: generator.tensors(ParameterLayout.textEncoderWithProjection(config)),
                                    dtype: dtype, metadata: metadata,
                                    to: url.appendingPathComponent("text_encoder_2/model.safetensors"))
    }

    private static func modelIndex(_ pipeline: StableDiffusionArchitecture) throws -> Data {
        var index: [String: Any] = [
            "_class_name": pipeline.pipelineClass, "_diffusers_version": "0.42.1",
            "feature_extractor": [NSNull(), NSNull()], "safety_checker": [NSNull(), NSNull()],
            "requires_safety_checker": false,
            "scheduler": ["diffusers", schedulerClass(pipeline.schedulerConfigJSON)], "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        ]
        if pipeline.textEncoder2 != nil {
            index["text_encoder_2"] = ["transformers", "CLIPTextModelWithProjection"]
            index["tokenizer_2"] = ["transformers", "CLIPTokenizer"]
            index["force_zeros_for_empty_prompt"] = true
            for key in ["feature_extractor", "safety_checker", "requires_safety_checker"] { index[key] = nil }
        }
        return try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    private static func schedulerClass(_ schedulerConfigJSON: String) -> String {
        let object = try? JSONSerialization.jsonObject(with: Data(schedulerConfigJSON.utf8)) as? [String: Any]
        return object?["_class_name"] as? String ?? "PNDMScheduler"
    }

    /// The bundled merges, the vocabulary derived from them, and the pad token.
    private static func writeTokenizer(padToken: String, to folder: URL) throws {
        let merges = try CLIPTokenizer.bundledMerges()
        let vocabulary = CLIPTokenizer.vocabulary(merges: merges)
        try JSONSerialization.data(withJSONObject: vocabulary, options: [.sortedKeys, .withoutEscapingSlashes])
            .write(to: folder.appendingPathComponent("vocab.json"))
        try Data(contentsOf: CLIPTokenizer.bundledMergesURL()).write(to: folder.appendingPathComponent("merges.txt"))
        let config: [String: Any] = [
            "bos_token": CLIPTokenizer.startOfText, "eos_token": CLIPTokenizer.endOfText, "unk_token": CLIPTokenizer.endOfText,
            "pad_token": padToken, "model_max_length": 77, "do_lower_case": true, "tokenizer_class": "CLIPTokenizer",
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
    }

    /// A lone diffusers model: `config.json` naming `className`, the weights and the note.
    private static func writeModelFolder(_ config: some Encodable, className: String, layout: [ParameterLayout.Entry],
                                         to url: URL, generator: WeightGenerator, dtype: SafeTensorsWriter.StorageType,
                                         metadata: [String: String], name: String) throws {
        try createFolder(url)
        try diffusersConfigJSON(config, className: className).write(to: url.appendingPathComponent("config.json"))
        try SafeTensorsWriter.write(streaming: generator.tensors(layout), dtype: dtype, metadata: metadata,
                                    to: url.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        try writeNote(in: url, name: name, seed: generator.seed)
    }

    private static func writeNote(in folder: URL, name: String, seed: UInt64) throws {
        let note = """
        NOT A REAL MODEL. Written by `overpaint models random --like \(name) --seed \(seed)`: the \(name) \
        architecture with random weights, for timing and memory checks. Its images are noise.

        """
        try Data(note.utf8).write(to: folder.appendingPathComponent("NOTE.txt"))
    }

    private static func createFolder(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw WeightsError.writeFailed(path: url.path, reason: error.localizedDescription)
        }
    }

    // MARK: - Single file

    private static func singleFilePipeline(_ pipeline: StableDiffusionArchitecture, generator: WeightGenerator) -> [StreamedTensor] {
        let tensors = singleFileUNetAndVAE(pipeline.unet, pipeline.vae, generator: generator)
        guard let textEncoder2 = pipeline.textEncoder2 else {
            return tensors + singleFileTextEncoder(pipeline.textEncoder, generator: generator)
        }
        // SDXL, as A1111 / Civitai files: CLIP-L, then OpenCLIP bigG
        let clip = generator.tensors(ParameterLayout.textEncoder(pipeline.textEncoder)).map {
            renamed($0, LDMPrefix.sdxlCLIP + LDMReverseKeyMap.clip($0.name))
        }
        return tensors + clip + singleFileBigG(textEncoder2, prefix: LDMPrefix.sdxlOpenCLIP, generator: generator)
    }

    /// `model.diffusion_model.*` and `first_stage_model.*`.
    private static func singleFileUNetAndVAE(_ unet: UNet2DConditionConfig, _ vae: AutoencoderKLConfig,
                                             generator: WeightGenerator) -> [StreamedTensor] {
        let layersPerBlock = unet.layersPerBlock.values(count: unet.blockOutChannels.count)?.first ?? 2
        let attentionUpBlocks = Set(unet.upBlockTypes.indices.filter { unet.upBlockTypes[$0] == "CrossAttnUpBlock2D" })
        var tensors = generator.tensors(ParameterLayout.unet(unet)).map { tensor in
            let ldm = LDMReverseKeyMap.unet(tensor.name, layersPerBlock: layersPerBlock, upBlocksWithAttention: attentionUpBlocks)
            return renamed(tensor, LDMPrefix.unet + (ldm ?? tensor.name))
        }
        let upBlocks = vae.blockOutChannels.count
        for tensor in generator.tensors(ParameterLayout.vae(vae)) {
            let target = LDMReverseKeyMap.vae(tensor.name, shape: tensor.shape, upBlockCount: upBlocks)
            tensors.append(StreamedTensor(name: LDMPrefix.vae + (target?.name ?? tensor.name),
                                          shape: target?.shape ?? tensor.shape, fill: tensor.fill))
        }
        return tensors
    }

    /// OpenCLIP bigG with its projection under `prefix`, generated under the diffusers folder's
    /// names (so both layouts hold the same weights).
    private static func singleFileBigG(_ config: CLIPTextConfig, prefix: String, generator: WeightGenerator) -> [StreamedTensor] {
        let legacy = CLIPTextModel.legacyModule + "."
        let bigG = generator.tensors(ParameterLayout.textEncoderWithProjection(config)).map {
            renamed($0, $0.name.hasPrefix(legacy) ? String($0.name.dropFirst(legacy.count)) : $0.name)
        }
        return openCLIPTensors(bigG, prefix: prefix)
    }

    /// SD 1.x: transformers names under `cond_stage_model.transformer.text_model.`. SD 2.x (exact
    /// GELU): OpenCLIP names with fused q/k/v.
    private static func singleFileTextEncoder(_ config: CLIPTextConfig, generator: WeightGenerator) -> [StreamedTensor] {
        guard config.hiddenAct == .gelu else {
            return generator.tensors(ParameterLayout.textEncoder(config)).map {
                renamed($0, LDMPrefix.clip + LDMReverseKeyMap.clip($0.name))
            }
        }
        // OpenCLIP-H has 24 layers; diffusers keeps 23 and LDMKeyMap skips layer 23 on load.
        var full = config
        if full.numHiddenLayers == 23 { full.numHiddenLayers = 24 }
        return openCLIPTensors(generator.tensors(ParameterLayout.textEncoder(full)), prefix: LDMPrefix.openCLIP)
    }

    /// Text-encoder tensors under OpenCLIP names after `prefix`: q, k and v fused into `in_proj`,
    /// a projection transposed.
    private static func openCLIPTensors(_ source: [StreamedTensor], prefix: String) -> [StreamedTensor] {
        var fused: [String: [StreamedTensor?]] = [:]
        var shapes: [String: [Int]] = [:]
        var tensors: [StreamedTensor] = []
        for tensor in source {
            guard let target = LDMReverseKeyMap.openCLIP(tensor.name, shape: tensor.shape) else { continue }
            let name = prefix + target.name
            if target.transposed {
                tensors.append(transposed(tensor, name: name))
                continue
            }
            guard let part = target.fusedPart else {
                tensors.append(renamed(tensor, name))
                continue
            }
            fused[name, default: [nil, nil, nil]][part] = tensor
            shapes[name] = [3 * tensor.shape[0]] + tensor.shape.dropFirst()
        }
        for (name, parts) in fused {
            let pieces = parts.compactMap { $0 }
            guard let shape = shapes[name], pieces.count == 3 else { continue }
            tensors.append(concatenated(pieces, name: name, shape: shape))
        }
        return tensors
    }

    private static func renamed(_ tensor: StreamedTensor, _ name: String) -> StreamedTensor {
        StreamedTensor(name: name, shape: tensor.shape, fill: tensor.fill)
    }

    /// A `[rows, columns]` tensor as `[columns, rows]` (small: the source is made whole per call).
    private static func transposed(_ tensor: StreamedTensor, name: String) -> StreamedTensor {
        let (rows, columns) = (tensor.shape[0], tensor.shape[1])
        return StreamedTensor(name: name, shape: [columns, rows]) { start, values in
            var source = [Float](repeating: 0, count: rows * columns)
            source.withUnsafeMutableBufferPointer { tensor.fill(0, $0) }
            for index in 0..<values.count {
                let (row, column) = ((start + index) / rows, (start + index) % rows)
                values[index] = source[column * columns + row]
            }
        }
    }

    /// Equal-sized tensors stacked along the first axis.
    private static func concatenated(_ pieces: [StreamedTensor], name: String, shape: [Int]) -> StreamedTensor {
        let pieceCount = pieces[0].shape.reduce(1, *)
        return StreamedTensor(name: name, shape: shape) { start, values in
            var index = 0
            while index < values.count {
                let position = start + index
                let piece = position / pieceCount
                let offset = position % pieceCount
                let length = min(values.count - index, pieceCount - offset)
                pieces[piece].fill(offset, UnsafeMutableBufferPointer(rebasing: values[index ..< index + length]))
                index += length
            }
        }
    }
}

/// Seeded, counter-based random tensors with torch's default scales.
struct WeightGenerator: Sendable {
    let seed: UInt64

    func tensors(_ entries: [ParameterLayout.Entry]) -> [StreamedTensor] {
        let shapes = Dictionary(entries.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        return entries.map { tensor($0, siblings: shapes) }
    }

    /// `siblings` finds a bias's weight (for its fan-in); a bias whose weight is a vector is a norm's.
    private func tensor(_ entry: ParameterLayout.Entry, siblings: [String: [Int]]) -> StreamedTensor {
        let bound = Self.bound(entry, siblings: siblings)
        let key = Self.mix(seed &+ Self.fnv1a(entry.name))
        return StreamedTensor(name: entry.name, shape: entry.shape) { start, values in
            guard let bound else {
                values.initialize(repeating: entry.name.hasSuffix(".bias") ? 0 : 1)
                return
            }
            for index in values.indices {
                let bits = Self.mix(key &+ UInt64(start + index + 1) &* 0x9E37_79B9_7F4A_7C15)
                let unit = Float(bits >> 40) * 0x1p-24
                values[index] = (2 * unit - 1) * bound
            }
        }
    }

    /// The uniform half-width, or nil for a constant (norm weight 1, norm bias 0).
    static func bound(_ entry: ParameterLayout.Entry, siblings: [String: [Int]]) -> Float? {
        if entry.name.hasSuffix("embedding.weight"), entry.name.hasPrefix("embeddings.") || entry.name.contains(".embeddings.") {
            return 0.02 * Float(3).squareRoot()
        }
        var weightShape = entry.shape
        if entry.name.hasSuffix(".bias") {
            guard let weight = siblings[String(entry.name.dropLast("bias".count)) + "weight"] else { return nil }
            weightShape = weight
        }
        guard weightShape.count >= 2 else { return nil }
        return 1 / Float(weightShape.dropFirst().reduce(1, *)).squareRoot()
    }

    /// SplitMix64's finaliser.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }
}
