import Foundation
import Imaging
import OverpaintTestSupport
import Testing
import Weights
@testable import Models
@testable import Pipelines

/// `models random --like sdxl-refiner | controlnet-sdxl` at toy widths, written to disk and used
/// as a recipe would use them: the refiner after sdxl-tiny's base (`refiner:`), the ControlNet
/// beside it. Random weights make noise, so the check is that they load and stay finite.
@Suite struct RandomSDXLModelTests {
    /// The 1.0 refiner's shape at toy widths: four levels with attention in the middle two, one
    /// transformer depth throughout, heads of width 64 and 256-wide time ids, so that a single
    /// file's shapes give this config back.
    static func tinyRefiner() -> SDXLRefinerArchitecture {
        var refiner = SDXLRefinerArchitecture.sdxlRefiner
        refiner.unet.blockOutChannels = [64, 128, 128, 128]
        refiner.unet.layersPerBlock = .shared(1)
        refiner.unet.transformerLayersPerBlock = .shared(2)
        refiner.unet.attentionHeadDim = .perBlock([1, 2, 2, 2])
        refiner.unet.crossAttentionDim = .shared(64)
        refiner.unet.projectionClassEmbeddingsInputDim = 32 + 5 * 256
        refiner.vae = refiner.vae.shrunk(to: [32, 32])
        refiner.textEncoder2 = refiner.textEncoder2.shrunk(width: 64, layers: 2, heads: 1)
        refiner.textEncoder2.projectionDim = 32
        return refiner
    }

    @Test(arguments: [RandomModel.Format.diffusers, .singleFile])
    func aRandomRefinerRefinesAfterTheBase(_ format: RandomModel.Format) throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let url = scratch.appendingPathComponent(format == .singleFile ? "refiner.safetensors" : "refiner")
        let architecture = Self.tinyRefiner()
        try RandomModel.write(.sdxlRefiner(architecture), name: "sdxl-refiner", to: url, format: format, seed: 4, dtype: .f16)
        let report = try ModelInspector.inspect(url)
        #expect(report.family == .sdxlRefiner && report.missing.isEmpty)
        if format == .singleFile {
            let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: url))
            #expect(try StableDiffusionArchitecture.inferredRefiner(from: checkpoint) == architecture)
        }
        let refiner = try SDXLRefiner(modelAt: url)
        #expect(refiner.unet.config == architecture.unet)
        #expect(refiner.conditioning.requiresAestheticsScore && !refiner.conditioning.forceZerosForEmptyPrompt)
        let output = try SDXLPipelineTests.pipeline.get().imageToImage(
            try SDXLFixtures.image("input.png"), refiner: RefinerHandOver(refiner: refiner, switchAt: 0.7),
            options: GenerationOptions(prompt: SDXLFixtures.prompt, steps: 6, strength: 0.6, seed: 1))
        #expect(output.width == 64 && output.height == 64 && output.samples.allSatisfy(\.isFinite))
    }

    /// sdxl-tiny's contracting path, as `ControlNetModel.from_unet(unet)` would copy it.
    static func tinyControlNet(for unet: UNet2DConditionConfig) -> ControlNetConfig {
        var config = ControlNetConfig.sdxlCanny
        let levels = unet.blockOutChannels.count
        config.blockOutChannels = unet.blockOutChannels
        config.layersPerBlock = unet.layersPerBlock.values(count: levels)?.first ?? 2
        config.transformerLayersPerBlock = unet.transformerLayersPerBlock
        config.attentionHeadDim = unet.attentionHeadDim
        config.crossAttentionDim = unet.crossAttentionDim.values(count: levels)?.first ?? 0
        config.normNumGroups = unet.normNumGroups
        config.additionTimeEmbedDim = unet.additionTimeEmbedDim
        config.projectionClassEmbeddingsInputDim = unet.projectionClassEmbeddingsInputDim
        config.conditioningEmbeddingOutChannels = [4, 8, 8, 16]
        return config
    }

    @Test func aRandomSDXLControlNetControlsTheBase() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let pipeline = try SDXLPipelineTests.pipeline.get()
        let folder = scratch.appendingPathComponent("controlnet-sdxl")
        try RandomModel.write(.controlNet(Self.tinyControlNet(for: pipeline.unet.config)), name: "controlnet-sdxl", to: folder,
                              format: .diffusers, seed: 2, dtype: .f16)
        let report = try ModelInspector.inspect(folder)
        #expect(report.family == .controlNet && report.generation == .sdxl)
        let image = try SDXLFixtures.image("input.png")
        let control = ControlInput(model: try ControlInput.loadModel(folder: folder), condition: try Canny.edges(of: image, low: 100, high: 200))
        let output = try pipeline.imageToImage(image, controls: [control],
                                               options: GenerationOptions(prompt: SDXLFixtures.prompt, steps: 4, strength: 0.5, seed: 3))
        #expect(output.width == 64 && output.height == 64 && output.samples.allSatisfy(\.isFinite))
    }
}
