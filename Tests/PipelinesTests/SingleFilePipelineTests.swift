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

    /// sd-tiny's UNet and VAE as diffusers' conversion reads them back
    /// (tools/reference/singlefile_fixtures.py), plus sd-tiny's text encoder under the SD 1 prefix,
    /// written in `folder`.
    static func sdTinySingleFile(in folder: URL) throws -> URL {
        let ldm = try WeightStore(url: Fixtures.root.appendingPathComponent("singlefile/sd-tiny-unet-vae.safetensors"))
        let text = try WeightStore(url: PipelineFixtures.folder.appendingPathComponent("sd-tiny/text_encoder"))
        var tensors: [String: Tensor] = [:]
        for key in ldm.keys { tensors[key] = try ldm.tensor(named: key) }
        for key in text.keys {
            let name = key.hasPrefix("text_model.") ? key : "text_model." + key
            tensors["cond_stage_model.transformer." + name] = try text.tensor(named: key)
        }
        let url = folder.appendingPathComponent("sd-tiny.safetensors")
        try SafeTensorsWriter.write(tensors, to: url)
        return url
    }

    @Test func sdTinySingleFileWithItsConfigsMatchesTheFolderPipeline() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = try tinyPipelineFolder(in: scratch)
        let file = try Self.sdTinySingleFile(in: scratch)
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
        pipeline.unet = pipeline.unet.shrunk(to: [32, 64], attention: [true, false], crossAttention: 64)
        pipeline.vae = pipeline.vae.shrunk(to: [32, 32, 32, 32])
        pipeline.textEncoder = pipeline.textEncoder.shrunk(width: 64, layers: 2, heads: 1)
        try Self.inBothLayouts(pipeline) { folder, single in
            let image = try PipelineFixtures.image("input.png")
            #expect(single.schedulerConfig.className == "PNDMScheduler")
            #expect(Self.maximumLevelDifference(try single.imageToImage(image, options: Self.options()),
                                                try folder.imageToImage(image, options: Self.options())) <= 1)
        }
    }

    /// `architecture` with seeded random weights as a diffusers folder and as a single file, both
    /// loaded (the file with no configs), handed to `check`, then removed.
    static func inBothLayouts(_ architecture: StableDiffusionArchitecture,
                              _ check: (_ folder: StableDiffusion, _ singleFile: StableDiffusion) throws -> Void) throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = scratch.appendingPathComponent("model"), file = scratch.appendingPathComponent("model.safetensors")
        try RandomModel.write(.stableDiffusion(architecture), name: "tiny", to: folder, format: .diffusers, seed: 11, dtype: .f16)
        try RandomModel.write(.stableDiffusion(architecture), name: "tiny", to: file, format: .singleFile, seed: 11, dtype: .f16)
        try check(StableDiffusion(folder: folder), StableDiffusion(singleFile: file))
    }

    /// Tests/Fixtures/singlefile/sdxl-tiny.safetensors (sdxl-tiny in the A1111 / Civitai layout,
    /// which diffusers' from_single_file reads back tensor for tensor: sdxl_singlefile_fixtures.py)
    /// with sdxl-tiny's configs gives diffusers' StableDiffusionXLImg2ImgPipeline's image.
    @Test func sdxlTinySingleFileWithItsConfigsMatchesDiffusers() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let single = try StableDiffusion(singleFile: Fixtures.url("singlefile", "sdxl-tiny.safetensors"),
                                         configFolder: tinySDXLFolder(in: scratch))
        let reference = try #require(SDXLFixtures.cases.first { $0.name == "img2img_prompt_2_euler_a" })
        let output = try single.imageToImage(try SDXLFixtures.image("input.png"), options: reference.options)
        let psnr = ImageFidelity.psnr(output, try SDXLFixtures.image("img2img_prompt_2_euler_a.png"), eightBit: true)
        #expect(psnr >= 40, "PSNR \(psnr) dB")
    }

    /// An SDXL file with no configs: SDXL 1.0's layout at small widths (heads of width 64, 32
    /// groups), written by `models random` in both layouts, loads with the architecture inferred
    /// from its shapes and gives the folder's image; the refiner's file is refused as a base.
    @Test func inferredSDXLSingleFileMatchesTheFolderPipeline() throws {
        var pipeline = StableDiffusionArchitecture.sdxl
        pipeline.unet = pipeline.unet.shrunk(to: [64, 128], attention: [false, true], crossAttention: 64 + 64)
        pipeline.unet.transformerLayersPerBlock = .perBlock([1, 2])
        pipeline.unet.attentionHeadDim = .perBlock([1, 2])
        pipeline.unet.projectionClassEmbeddingsInputDim = 32 + 6 * 256
        pipeline.vae = pipeline.vae.shrunk(to: [32, 32, 32, 32])
        pipeline.textEncoder = pipeline.textEncoder.shrunk(width: 64, layers: 2, heads: 1)
        pipeline.textEncoder2 = pipeline.textEncoder2?.shrunk(width: 64, layers: 2, heads: 1)
        pipeline.textEncoder2?.projectionDim = 32
        try Self.inBothLayouts(pipeline) { folder, single in
            let image = try PipelineFixtures.image("input.png")
            let options = GenerationOptions(prompt: PipelineFixtures.prompt, steps: 4, guidanceScale: 5, strength: 0.75, seed: 42)
            #expect(single.sdxl != nil && single.schedulerConfig.className == "EulerDiscreteScheduler")
            #expect(Self.maximumLevelDifference(try single.imageToImage(image, options: options),
                                                try folder.imageToImage(image, options: options)) <= 1)
        }
        #expect(throws: (any Error).self) { try StableDiffusion(singleFile: Fixtures.url("singlefile", "sdxl-refiner-tiny.safetensors")) }
    }
}
