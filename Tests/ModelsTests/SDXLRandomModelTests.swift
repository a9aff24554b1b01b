import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// `models random --like sdxl | sdxl-inpaint`: the layouts against diffusers' / transformers' own
/// state dicts of stabilityai/stable-diffusion-xl-base-1.0's configs on the meta device
/// (Tests/Fixtures/sdxl/architectures.json, tools/reference/sdxl_fixtures.py `write_architectures`),
/// and a tiny variant written, then loaded by the real loaders with a finite forward pass.
@Suite struct SDXLRandomModelTests {
    // sum(p.numel() for p in Model(**config).parameters()) on the meta device
    @Test func layoutsEqualDiffusersStateDicts() throws {
        let sdxl = StableDiffusionArchitecture.sdxl
        try RandomModelTests.expectLayout(ParameterLayout.unet(sdxl.unet), arch: "sdxl", component: "unet", area: "sdxl", parameters: 2_567_463_684)
        try RandomModelTests.expectLayout(ParameterLayout.vae(sdxl.vae), arch: "sdxl", component: "vae", area: "sdxl", parameters: 83_653_863)
        // transformers 5 names CLIPTextModel's tensors without `text_model.`, CLIPTextModelWithProjection's with it
        try RandomModelTests.expectLayout(ParameterLayout.textEncoder(sdxl.textEncoder), arch: "sdxl", component: "text_encoder", area: "sdxl", parameters: 123_060_480)
        let bigG = try #require(sdxl.textEncoder2)
        try RandomModelTests.expectLayout(ParameterLayout.textEncoderWithProjection(bigG), arch: "sdxl",
                                          component: "text_encoder_2", area: "sdxl", parameters: 694_659_840)
        try RandomModelTests.expectLayout(ParameterLayout.unet(StableDiffusionArchitecture.sdxlInpaint.unet), arch: "sdxl-inpaint",
                                          component: "unet", area: "sdxl", parameters: 2_567_478_084)
        #expect(sdxl.vae.scalingFactor == 0.13025 && sdxl.vae.forceUpcast)
    }

    /// SDXL's shape at toy widths: three levels, text_time, both encoders with the real vocabulary.
    static func tinySDXL() -> StableDiffusionArchitecture {
        var pipeline = StableDiffusionArchitecture.sdxl
        pipeline.unet.blockOutChannels = [32, 64, 64]
        pipeline.unet.layersPerBlock = .shared(1)
        pipeline.unet.normNumGroups = 8
        pipeline.unet.transformerLayersPerBlock = .perBlock([1, 1, 2])
        pipeline.unet.attentionHeadDim = .perBlock([1, 2, 2])
        pipeline.unet.crossAttentionDim = .shared(32 + 48)
        pipeline.unet.additionTimeEmbedDim = 8
        pipeline.unet.projectionClassEmbeddingsInputDim = 16 + 6 * 8
        pipeline.vae = pipeline.vae.shrunk(to: [8, 16])
        pipeline.vae.normNumGroups = 4
        pipeline.textEncoder = pipeline.textEncoder.shrunk(width: 32, layers: 2, heads: 2)
        var bigG = (pipeline.textEncoder2 ?? .openCLIPViTBigG14).shrunk(width: 48, layers: 3, heads: 2)
        bigG.projectionDim = 16
        pipeline.textEncoder2 = bigG
        return pipeline
    }

    @Test func tinySDXLLoadsAndRunsFinite() throws {
        let (scratch, folder) = try RandomModelTests.writtenAsDiffusers(.stableDiffusion(Self.tinySDXL()), name: "sdxl", seed: 7)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let tokenizer2 = try CLIPTokenizer(folder: folder.appendingPathComponent("tokenizer_2"))
        #expect(tokenizer2.padTokenID == 0)
        let text2 = try CLIPTextModelWithProjection(folder: folder.appendingPathComponent("text_encoder_2"))
        let output = text2([tokenizer2.encode("a photo of a cat")])
        #expect(output.textEmbeds.shape == [1, 16] && RandomModelTests.isFinite(output.textEmbeds))
        let text = try CLIPTextModel(folder: folder.appendingPathComponent("text_encoder"))
        let tokenizer = try CLIPTokenizer(folder: folder.appendingPathComponent("tokenizer"))
        let context = Tensor.concatenate([text.penultimateHiddenState([tokenizer.encode("a photo of a cat")]),
                                          output.hiddenStates[output.hiddenStates.count - 2]], axis: 2)
        let unet = try UNet2DConditionModel(folder: folder.appendingPathComponent("unet"))
        let latents = Tensor(shape: [1, 4, 8, 8]) { values in
            for index in values.indices { values[index] = Float(index % 7) / 7 - 0.5 }
        }
        let added = AddedConditions(textEmbeds: output.textEmbeds,
                                    timeIds: Tensor(shape: [1, 6], scalars: [64, 64, 0, 0, 64, 64]))
        let noise = unet(sample: latents, timestep: 500, encoderHiddenStates: context, addedConditions: added)
        #expect(noise.shape == [1, 4, 8, 8] && RandomModelTests.isFinite(noise))
        _ = try AutoencoderKL(folder: folder.appendingPathComponent("vae"))
        let report = try ModelInspector.inspect(folder)
        #expect(report.family == .sdxl)
        #expect(report.missing.isEmpty)
    }

    /// The A1111 / Civitai layout: every tensor of the diffusers layout comes back under its own
    /// name and shape through the single-file loader's renaming, and `models inspect` calls it SDXL.
    @Test func singleFileSDXLHoldsEveryDiffusersTensor() throws {
        let pipeline = Self.tinySDXL()
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let url = scratch.appendingPathComponent("sdxl.safetensors")
        try RandomModel.write(.stableDiffusion(pipeline), name: "sdxl", to: url, format: .singleFile, seed: 7, dtype: .f16)
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: url))
        #expect(checkpoint.textEncoderLayout == .sdxl)
        let textEncoder2 = try #require(pipeline.textEncoder2)
        let components: [(any ParameterSource, [ParameterLayout.Entry])] = [
            (try checkpoint.unet(), ParameterLayout.unet(pipeline.unet)),
            (try checkpoint.vae(), ParameterLayout.vae(pipeline.vae)),
            (try checkpoint.textEncoder(), ParameterLayout.textEncoder(pipeline.textEncoder)),
            (try checkpoint.textEncoder2(), ParameterLayout.textEncoderWithProjection(textEncoder2).map { entry in
                (entry.name.hasPrefix("text_model.") ? String(entry.name.dropFirst("text_model.".count)) : entry.name, entry.shape)
            }),
        ]
        for (source, layout) in components {
            #expect(source.keys == layout.map(\.name).sorted(), "\(source.path)")
            for entry in layout { #expect(try source.shape(of: entry.name) == entry.shape, "\(entry.name)") }
        }
        let report = try ModelInspector.inspect(url)
        #expect(report.family == .sdxl)
        #expect(report.missing.isEmpty)
    }
}

/// `models random --like sdxl-refiner | controlnet-sdxl` at full size, against the meta-device
/// state dicts of stabilityai/stable-diffusion-xl-refiner-1.0's and
/// diffusers/controlnet-canny-sdxl-1.0's configs (Tests/Fixtures/sdxl-random/architectures.json,
/// tools/reference/sdxl_random_fixtures.py). The single file is listed, not generated: its header
/// over a sparse file lets the loaders read every name and shape.
@Suite struct SDXLRefinerAndControlNetRandomModelTests {
    // sum(p.numel() for p in Model(**config).parameters()) on the meta device
    static let refinerParameters = (unet: 2_259_526_660, vae: 83_653_863, textEncoder2: 694_659_840)
    static let controlNetParameters = 1_251_014_160

    @Test func layoutsEqualDiffusersStateDicts() throws {
        let refiner = SDXLRefinerArchitecture.sdxlRefiner
        try RandomModelTests.expectLayout(ParameterLayout.unet(refiner.unet), arch: "sdxl-refiner", component: "unet",
                                          area: "sdxl-random", parameters: Self.refinerParameters.unet)
        try RandomModelTests.expectLayout(ParameterLayout.vae(refiner.vae), arch: "sdxl-refiner", component: "vae",
                                          area: "sdxl-random", parameters: Self.refinerParameters.vae)
        try RandomModelTests.expectLayout(ParameterLayout.textEncoderWithProjection(refiner.textEncoder2), arch: "sdxl-refiner",
                                          component: "text_encoder_2", area: "sdxl-random", parameters: Self.refinerParameters.textEncoder2)
        try RandomModelTests.expectLayout(ParameterLayout.controlNet(.sdxlCanny), arch: "controlnet-sdxl", component: "controlnet",
                                          area: "sdxl-random", parameters: Self.controlNetParameters)
        #expect(KnownArchitecture(rawValue: "sdxl-refiner")?.refiner == .sdxlRefiner)
        #expect(KnownArchitecture(rawValue: "controlnet-sdxl")?.controlNet == .sdxlCanny)
    }

    /// `tensors` as a safetensors file whose header is real and whose data is a hole.
    static func writeHeaderOnly(_ tensors: [StreamedTensor], to url: URL) throws {
        var object: [String: Any] = [:]
        var offset = 0
        for tensor in tensors.sorted(by: { $0.name < $1.name }) {
            let size = 2 * tensor.shape.reduce(1, *)
            object[tensor.name] = ["dtype": "F16", "shape": tensor.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        var header = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        var length = UInt64(header.count).littleEndian
        try (Data(bytes: &length, count: 8) + header).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(8 + header.count + offset))
        try handle.close()
    }

    @Test func fullSizeRefinerSingleFileHoldsEveryDiffusersTensor() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let url = scratch.appendingPathComponent("sdxl-refiner.safetensors")
        let tensors = try RandomModel.singleFileTensors(.sdxlRefiner(.sdxlRefiner), generator: WeightGenerator(seed: 0), path: url.path)
        // LDM names throughout: a diffusers name would pass the loader's renaming unchanged
        #expect(tensors.filter { RandomModelTests.hasDiffusersBlockName($0.name) }.map(\.name).prefix(3) == [])
        try Self.writeHeaderOnly(tensors, to: url)
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: url))
        #expect(checkpoint.textEncoderLayout == .sdxlRefiner)
        let reference = try #require(try RandomModelTests.reference("sdxl-random")["sdxl-refiner"])
        let components: [(String, any ParameterSource)] = [
            ("unet", try checkpoint.unet()), ("vae", try checkpoint.vae()), ("text_encoder_2", try checkpoint.textEncoder2()),
        ]
        for (component, source) in components {
            let tensors = try #require(reference[component]?["tensors"] as? [String: [Int]])
            // transformers names CLIPTextModelWithProjection's tensors under `text_model.`; the loader without it
            let expected = Dictionary(uniqueKeysWithValues: tensors.map { name, shape in
                (name.hasPrefix("text_model.") ? String(name.dropFirst("text_model.".count)) : name, shape)
            })
            #expect(source.keys == expected.keys.sorted(), "\(component)")
            for (name, shape) in expected { #expect(try source.shape(of: name) == shape, "\(component) \(name)") }
        }
        let report = try ModelInspector.inspect(url)
        #expect(report.family == .sdxlRefiner && report.missing.isEmpty)
        let parameters = Self.refinerParameters
        #expect(report.components.map(\.parameterCount).reduce(0, +) == parameters.unet + parameters.vae + parameters.textEncoder2)
        #expect(try StableDiffusionArchitecture.inferredRefiner(from: checkpoint) == .sdxlRefiner)
    }

    /// The folder's config.json and a header-only weights file: `models inspect` names it.
    @Test func fullSizeControlNetSDXLIsInspectedAsSuch() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = scratch.appendingPathComponent("controlnet-sdxl")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try diffusersConfigJSON(ControlNetConfig.sdxlCanny, className: "ControlNetModel").write(to: folder.appendingPathComponent("config.json"))
        #expect(try ControlNetConfig.load(from: folder.appendingPathComponent("config.json")) == .sdxlCanny)
        try Self.writeHeaderOnly(WeightGenerator(seed: 0).tensors(ParameterLayout.controlNet(.sdxlCanny)),
                                 to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let report = try ModelInspector.inspect(folder)
        #expect(report.family == .controlNet && report.generation == .sdxl)
        #expect(report.summary.contains("ControlNet for SDXL"))
        #expect(report.components.map(\.parameterCount) == [Self.controlNetParameters])
    }

    @Test func anSDXLControlNetHasNoSingleFile() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let url = scratch.appendingPathComponent("controlnet-sdxl.safetensors")
        #expect(throws: ModelsError.self) {
            try RandomModel.write(.controlNet(.sdxlCanny), name: "controlnet-sdxl", to: url, format: .singleFile, seed: 0, dtype: .f16)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}
