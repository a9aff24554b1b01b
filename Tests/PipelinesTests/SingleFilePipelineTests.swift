import Foundation
import Imaging
import Models
import OverpaintTestSupport
import Tensors
import Testing
import Weights
@testable import Pipelines

/// Pipelines built from one LDM-layout `.safetensors` give exactly the images of the diffusers
/// folder holding the same weights.
@Suite struct SingleFilePipelineTests {
    static func options() -> GenerationOptions {
        GenerationOptions(prompt: PipelineFixtures.prompt, steps: 4, guidanceScale: 7.5, strength: 0.75, seed: 42)
    }

    static func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-single-\(UUID().uuidString)-\(name)")
    }

    /// sd-tiny's UNet and VAE as diffusers' conversion reads them back
    /// (tools/reference/singlefile_fixtures.py), plus sd-tiny's text encoder under the SD 1 prefix.
    static func sdTinySingleFile() throws -> URL {
        let ldm = try WeightStore(url: Fixtures.root.appendingPathComponent("singlefile/sd-tiny-unet-vae.safetensors"))
        let text = try WeightStore(url: PipelineFixtures.folder.appendingPathComponent("sd-tiny/text_encoder"))
        var tensors: [String: Tensor] = [:]
        for key in ldm.keys { tensors[key] = try ldm.tensor(named: key) }
        for key in text.keys {
            let name = key.hasPrefix("text_model.") ? key : "text_model." + key
            tensors["cond_stage_model.transformer." + name] = try text.tensor(named: key)
        }
        let url = temporaryURL("sd-tiny.safetensors")
        try SafeTensorsWriter.write(tensors, to: url)
        return url
    }

    @Test func sdTinySingleFileWithItsConfigsMatchesTheFolderPipeline() throws {
        let scratch = try makeScratchFolder()
        let folder = try tinyPipelineFolder(in: scratch)
        let file = try Self.sdTinySingleFile()
        defer {
            try? FileManager.default.removeItem(at: scratch)
            try? FileManager.default.removeItem(at: file)
        }
        let image = try PipelineFixtures.image("input.png")
        let expected = try StableDiffusion(folder: folder).imageToImage(image, options: Self.options())
        let single = try StableDiffusion(singleFile: file, configFolder: folder)
        #expect(Self.maximumLevelDifference(try single.imageToImage(image, options: Self.options()), expected) <= 1)
    }

    /// Same weights and code, so equal but for the order of threaded sums, which depends on what
    /// other tests run meanwhile (OpenBLAS's thread count is process-wide) and may move a level.
    static func maximumLevelDifference(_ a: Imaging.Image, _ b: Imaging.Image) -> Float {
        guard a.width == b.width, a.height == b.height, a.channels == b.channels else { return .infinity }
        return zip(a.samples, b.samples).map { abs($0 - $1) * 255 }.max() ?? 0
    }

    /// No configs at all: shapes and family rules must rebuild the architecture exactly.
    @Test func inferredSingleFilePipelineMatchesTheFolderPipeline() throws {
        var pipeline = StableDiffusionArchitecture.sd15
        pipeline.unet.blockOutChannels = [32, 64]
        pipeline.unet.downBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
        pipeline.unet.upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"]
        pipeline.unet.layersPerBlock = .shared(1)
        pipeline.unet.crossAttentionDim = .shared(64)
        pipeline.vae.blockOutChannels = [32, 32, 32, 32]
        pipeline.vae.layersPerBlock = 1
        pipeline.textEncoder.hiddenSize = 64
        pipeline.textEncoder.intermediateSize = 128
        pipeline.textEncoder.numHiddenLayers = 2
        pipeline.textEncoder.numAttentionHeads = 1
        let folder = Self.temporaryURL("sd"), file = Self.temporaryURL("sd.safetensors")
        defer {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.removeItem(at: file)
        }
        try RandomModel.write(.stableDiffusion(pipeline), name: "tiny", to: folder, format: .diffusers, seed: 11, dtype: .f16)
        try RandomModel.write(.stableDiffusion(pipeline), name: "tiny", to: file, format: .singleFile, seed: 11, dtype: .f16)
        let image = try PipelineFixtures.image("input.png")
        let expected = try StableDiffusion(folder: folder).imageToImage(image, options: Self.options())
        let single = try StableDiffusion(singleFile: file)
        #expect(single.schedulerConfig.className == "PNDMScheduler")
        #expect(Self.maximumLevelDifference(try single.imageToImage(image, options: Self.options()), expected) <= 1)
    }
}
