import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// `models random`: the known architectures' layouts against diffusers' own state dicts
/// (Tests/Fixtures/singlefile/architectures.json, tools/reference/architecture_fixtures.py), and
/// tiny variants written, then loaded by the real loaders with a finite forward pass.
@Suite struct RandomModelTests {
    /// `{arch: {component: {"parameters": N, "tensors": {name: shape}}}}` from the meta-device
    /// models, in Tests/Fixtures/<area>/architectures.json.
    static func reference(_ area: String = "singlefile") throws -> [String: [String: [String: Any]]] {
        let data = try Data(contentsOf: Fixtures.url(area, "architectures.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: [String: Any]]])
    }

    /// Every tensor name and shape of `layout` is the reference's, and so is the parameter count
    /// (and `parameters`, where given: the count diffusers' own classes report).
    static func expectLayout(_ layout: [ParameterLayout.Entry], arch: String, component: String,
                             area: String = "singlefile", parameters: Int? = nil) throws {
        let entry = try #require(try reference(area)[arch]?[component])
        let expected = try #require(entry["tensors"] as? [String: [Int]])
        let actual = Dictionary(layout.map { ($0.name, $0.shape) }, uniquingKeysWith: { $1 })
        #expect(actual.count == layout.count, "duplicate names in \(arch) \(component)")
        #expect(Set(actual.keys).symmetricDifference(expected.keys).sorted().prefix(5) == [], "\(arch) \(component)")
        for (name, shape) in expected where actual[name] != shape {
            Issue.record("\(arch) \(component) \(name): \(actual[name] ?? []) != \(shape)")
        }
        let count = layout.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(count == entry["parameters"] as? Int)
        if let parameters { #expect(count == parameters) }
    }

    @Test func knownLayoutsEqualDiffusersStateDicts() throws {
        let sd15 = StableDiffusionArchitecture.sd15, sd2 = StableDiffusionArchitecture.sd2
        try Self.expectLayout(ParameterLayout.unet(sd15.unet), arch: "sd15", component: "unet")
        try Self.expectLayout(ParameterLayout.vae(sd15.vae), arch: "sd15", component: "vae")
        try Self.expectLayout(ParameterLayout.textEncoder(sd15.textEncoder), arch: "sd15", component: "text_encoder")
        try Self.expectLayout(ParameterLayout.unet(sd2.unet), arch: "sd2", component: "unet")
        try Self.expectLayout(ParameterLayout.textEncoder(sd2.textEncoder), arch: "sd2", component: "text_encoder")
        try Self.expectLayout(ParameterLayout.unet(StableDiffusionArchitecture.sd15Inpaint.unet), arch: "sd15-inpaint", component: "unet")
        try Self.expectLayout(ParameterLayout.controlNet(.sd15Canny), arch: "controlnet", component: "controlnet")
        try Self.expectLayout(ParameterLayout.rrdbNet(.x4plus), arch: "realesrgan-x4plus", component: "rrdbnet")
    }

    /// SD 1.5's shape at a hundredth of the width: 2 levels of 32/64 channels, 8 heads, a
    /// 2-layer text encoder with the real vocabulary.
    static func tinyPipeline(sd2: Bool = false, inpainting: Bool = false) -> StableDiffusionArchitecture {
        var pipeline = shrunk(sd2 ? .sd2 : inpainting ? .sd15Inpaint : .sd15, unetChannels: [32, 64],
                              crossAttention: 32, headDim: sd2 ? .perBlock([2, 4]) : .shared(8),
                              vaeChannels: [8, 16], textWidth: 32, textHeads: 2)
        pipeline.unet.normNumGroups = 8
        pipeline.vae.normNumGroups = 4
        return pipeline
    }

    /// `base` at two UNet levels and two VAE levels of the given widths, with one layer a block,
    /// and a 2-layer text encoder.
    static func shrunk(_ base: StableDiffusionArchitecture, unetChannels: [Int], crossAttention: Int,
                       headDim: UNet2DConditionConfig.PerBlock<Int>, vaeChannels: [Int], textWidth: Int,
                       textHeads: Int) -> StableDiffusionArchitecture {
        var pipeline = base
        pipeline.unet = pipeline.unet.shrunk(to: unetChannels, attention: [true, false], crossAttention: crossAttention)
        pipeline.unet.attentionHeadDim = headDim
        pipeline.vae = pipeline.vae.shrunk(to: vaeChannels)
        pipeline.textEncoder = pipeline.textEncoder.shrunk(width: textWidth, layers: 2, heads: textHeads)
        return pipeline
    }

    /// Whether a single-file key holds a diffusers UNet block name, which the loader's renaming
    /// would let through unchanged (so a round trip alone cannot tell it from an LDM one).
    static func hasDiffusersBlockName(_ key: String) -> Bool {
        ["down_blocks.", "mid_block.", "up_blocks."].contains { key.hasPrefix("model.diffusion_model." + $0) || key.hasPrefix("control_model." + $0) }
    }

    /// `architecture` with the weights `seed` gives, as a half-precision diffusers folder `folder`
    /// named `name` in `scratch`, a fresh scratch folder.
    static func writtenAsDiffusers(_ architecture: RandomModel.Architecture, name: String, seed: UInt64,
                                   _ test: String = #function) throws -> (scratch: URL, folder: URL) {
        let scratch = try makeScratchFolder(test)
        let folder = scratch.appendingPathComponent(name)
        try RandomModel.write(architecture, name: name, to: folder, format: .diffusers, seed: seed, dtype: .f16)
        return (scratch, folder)
    }

    /// `architecture` with the weights `seed` gives, in `scratch` (a fresh scratch folder) as a
    /// diffusers folder `folder` and as a single file `file`.
    static func writtenInBothLayouts(_ architecture: RandomModel.Architecture, name: String, seed: UInt64,
                                     _ test: String = #function) throws -> (scratch: URL, folder: URL, file: URL) {
        let scratch = try makeScratchFolder(test)
        let (folder, file) = (scratch.appendingPathComponent(name), scratch.appendingPathComponent("\(name).safetensors"))
        try RandomModel.write(architecture, name: name, to: folder, format: .diffusers, seed: seed, dtype: .f32)
        try RandomModel.write(architecture, name: name, to: file, format: .singleFile, seed: seed, dtype: .f32)
        return (scratch, folder, file)
    }

    static func isFinite(_ tensor: Tensor) -> Bool { tensor.scalars.allSatisfy(\.isFinite) }

    @Test func tinyDiffusersPipelineLoadsAndRunsFinite() throws {
        let (scratch, folder) = try Self.writtenAsDiffusers(.stableDiffusion(Self.tinyPipeline()), name: "sd15", seed: 7)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let tokenizer = try CLIPTokenizer(folder: folder.appendingPathComponent("tokenizer"))
        let text = try CLIPTextModel(folder: folder.appendingPathComponent("text_encoder"))
        let unet = try UNet2DConditionModel(folder: folder.appendingPathComponent("unet"))
        let vae = try AutoencoderKL(folder: folder.appendingPathComponent("vae"))
        let context = text.promptEmbeddings([tokenizer.encode("a photo of a cat")])
        #expect(context.shape == [1, 77, 32] && Self.isFinite(context))
        let latents = Tensor(shape: [1, 4, 8, 8]) { values in
            for index in values.indices { values[index] = Float(index % 7) / 7 - 0.5 }
        }
        let noise = unet(sample: latents, timestep: 500, encoderHiddenStates: context)
        #expect(noise.shape == [1, 4, 8, 8] && Self.isFinite(noise))
        #expect(noise.scalars.contains { $0 != 0 })
        let image = vae.decode(latents)
        #expect(image.shape == [1, 3, 16, 16] && Self.isFinite(image))
        #expect(RandomModel.note(at: folder)?.contains("NOT A REAL MODEL") == true)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("NOTE.txt").path))
    }

    /// Same seed, two layouts: the single file, read back through `SingleFileCheckpoint` and
    /// `LDMKeyMap`, holds exactly the diffusers folder's tensors (so the reverse map inverts it).
    @Test(arguments: [false, true]) func singleFileHoldsTheDiffusersTensors(sd2: Bool) throws {
        let (scratch, folder, file) = try Self.writtenInBothLayouts(.stableDiffusion(Self.tinyPipeline(sd2: sd2)), name: "tiny", seed: 3)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: file))
        #expect(checkpoint.textEncoderLayout == (sd2 ? .openCLIP : .clip))
        #expect(checkpoint.file.keys.filter(Self.hasDiffusersBlockName).prefix(3) == [])
        let text = RenamedParameterSource(try WeightStore(url: folder.appendingPathComponent("text_encoder")),
                                          rename: LDMKeyMap.transformersCLIP)
        let pairs: [(any ParameterSource, any ParameterSource)] = [
            (try checkpoint.unet(), try WeightStore(url: folder.appendingPathComponent("unet"))),
            (try checkpoint.vae(), try WeightStore(url: folder.appendingPathComponent("vae"))),
            (try checkpoint.textEncoder(), text),
        ]
        for (single, diffusers) in pairs {
            #expect(single.keys == diffusers.keys, "\(diffusers.path)")
            for key in diffusers.keys {
                #expect(try single.tensor(named: key) == diffusers.tensor(named: key), "\(key)")
            }
        }
        #expect(RandomModel.note(at: file) != nil)
    }

    /// A tiny pipeline whose configs follow the single-file family rules (32 norm groups,
    /// SD 1 UNets 8 heads, SD 2 UNets and CLIP heads of width 64).
    static func ruleAbidingTinyPipeline(sd2: Bool) -> StableDiffusionArchitecture {
        shrunk(sd2 ? .sd2Single : .sd15, unetChannels: sd2 ? [64, 128] : [32, 64], crossAttention: 64,
               headDim: sd2 ? .perBlock([1, 2]) : .shared(8), vaeChannels: [32, 32], textWidth: 64, textHeads: 1)
    }

    @Test(arguments: [false, true]) func singleFileConfigsAreInferredFromShapes(sd2: Bool) throws {
        let pipeline = Self.ruleAbidingTinyPipeline(sd2: sd2)
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = scratch.appendingPathComponent("sd.safetensors")
        try RandomModel.write(.stableDiffusion(pipeline), name: "tiny", to: file, format: .singleFile, seed: 2, dtype: .f16)
        let inferred = try StableDiffusionArchitecture.inferred(from: SingleFileCheckpoint(file: SafeTensorsFile(url: file)))
        #expect(inferred.unet == pipeline.unet)
        #expect(inferred.vae == pipeline.vae)
        #expect(inferred.textEncoder == pipeline.textEncoder)
        #expect(inferred == pipeline)
    }

    @Test func tinyControlNetLoadsInBothLayouts() throws {
        var config = ControlNetConfig.sd15Canny
        config.blockOutChannels = [32, 64]
        config.downBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
        config.layersPerBlock = 1
        config.normNumGroups = 8
        config.crossAttentionDim = 32
        config.conditioningEmbeddingOutChannels = [8, 8, 16, 16]
        let (scratch, folder, file) = try Self.writtenInBothLayouts(.controlNet(config), name: "controlnet", seed: 1)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = try ControlNetModel(folder: folder)
        let fromFile = try ControlNetModel(
            config: config, source: SingleFileCheckpoint(file: SafeTensorsFile(url: file)).controlNet())
        let sample = Tensor(repeating: 0.1, shape: [1, 4, 8, 8])
        let context = Tensor(repeating: 0.2, shape: [1, 5, 32])
        let hint = Tensor(repeating: 0.5, shape: [1, 3, 64, 64])
        let output = model(sample: sample, timestep: 10, encoderHiddenStates: context, controlNetCond: hint)
        let again = fromFile(sample: sample, timestep: 10, encoderHiddenStates: context, controlNetCond: hint)
        #expect(output.downResiduals.count == 4)
        #expect(output.downResiduals.allSatisfy(Self.isFinite) && Self.isFinite(output.midResidual))
        // Same weights: equal but for the order of threaded sums (OpenBLAS's thread count is
        // process-wide, so it depends on what other tests run meanwhile).
        let pairs = zip(output.downResiduals + [output.midResidual], again.downResiduals + [again.midResidual])
        #expect(pairs.allSatisfy { pair in
            pair.0.shape == pair.1.shape && zip(pair.0.scalars, pair.1.scalars).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) }
        })
    }

    @Test func tinyRRDBNetLoadsAndUpscalesFinite() throws {
        let network = RRDBNetArchitecture(features: 8, blocks: 2, growth: 4)
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = scratch.appendingPathComponent("esrgan.safetensors")
        try RandomModel.write(.rrdbNet(network), name: "realesrgan-x4plus", to: file, format: .singleFile, seed: 5, dtype: .f16)
        let model = try #require(try loadSuperResolutionNetwork(at: file) as? RRDBNet)
        let output = model(Tensor(repeating: 0.5, shape: [1, 3, 4, 4]))
        #expect(output.shape == [1, 3, 16, 16] && Self.isFinite(output))
    }

    @Test func weightsFollowTorchDefaultScales() throws {
        let entries: [ParameterLayout.Entry] = [("a.weight", [4, 2, 3, 3]), ("a.bias", [4]), ("n.weight", [4]), ("n.bias", [4])]
        let tensors = WeightGenerator(seed: 9).tensors(entries)
        func values(_ tensor: StreamedTensor) -> [Float] {
            var values = [Float](repeating: .nan, count: tensor.shape.reduce(1, *))
            values.withUnsafeMutableBufferPointer { tensor.fill(0, $0) }
            return values
        }
        let weight = values(tensors[0]), bias = values(tensors[1])
        let bound = 1 / Float(18).squareRoot()
        #expect(weight.allSatisfy { abs($0) <= bound } && weight.contains { abs($0) > bound / 2 })
        #expect(bias.allSatisfy { abs($0) <= bound } && Set(bias).count == 4)
        #expect(values(tensors[2]) == [1, 1, 1, 1] && values(tensors[3]) == [0, 0, 0, 0])
        // Any block of a tensor is the same however it is split (what lets the writer thread it).
        var tail = [Float](repeating: 0, count: 30)
        tail.withUnsafeMutableBufferPointer { tensors[0].fill(42, $0) }
        #expect(tail == Array(weight[42 ..< 72]))
    }
}
