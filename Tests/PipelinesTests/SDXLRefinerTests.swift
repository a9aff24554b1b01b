import Foundation
import Imaging
import OverpaintTestSupport
import Schedulers
import Testing
import Weights
@testable import Models
@testable import Pipelines

/// One case of sdxl_refiner_fixtures.py's CASES.
typealias SDXLRefinerCase = PipelineReferenceCase<SDXLRefinerCaseKeys>

/// sdxl_refiner_fixtures.py's own keys: where the refiner takes over; the base's UNet
/// (INPAINT_CASES), second prompt and the refiner's aesthetic scores where the case sets them.
struct SDXLRefinerCaseKeys: Decodable, Sendable {
    let switchAt: Double
    let unet: String?
    let prompt_2: String?
    let aesthetic_score: Double?
    let negative_aesthetic_score: Double?

    private enum CodingKeys: String, CodingKey {
        case unet, prompt_2, aesthetic_score, negative_aesthetic_score
        case switchAt = "switch"
    }
}

extension PipelineReferenceCase<SDXLRefinerCaseKeys> {
    var options: GenerationOptions {
        var generation = options(prompt: SDXLFixtures.prompt)
        generation.prompt2 = keys.prompt_2
        return generation
    }
}

/// diffusers' base -> refiner hand-over: sdxl-tiny's StableDiffusionXLImg2ImgPipeline with
/// `denoising_end`, its latents refined by the tiny refiner with `denoising_start`, one generator.
@Suite struct SDXLRefinerTests {
    static let refiner = Result {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try SDXLRefiner(folder: tinySDXLRefinerFolder(in: scratch))
    }

    static let cases: [SDXLRefinerCase] = Fixtures.namedCases("sdxl-refiner", "cases.json")

    @Test func everyReferenceCaseIsListed() {
        #expect(Self.cases.count == 4)
    }

    @Test func loadsTheRefinersSettings() throws {
        let refiner = try Self.refiner.get()
        #expect(refiner.conditioning.requiresAestheticsScore)
        #expect(!refiner.conditioning.forceZerosForEmptyPrompt)
        #expect(refiner.unet.config.crossAttentionDim == .shared(16))
    }

    @Test(arguments: SDXLRefinerTests.cases)
    func matchesDiffusers(_ reference: SDXLRefinerCase) throws {
        let handOver = RefinerHandOver(refiner: try Self.refiner.get(), switchAt: reference.switchAt,
                                       aestheticScore: reference.aesthetic_score ?? 6,
                                       negativeAestheticScore: reference.negative_aesthetic_score ?? 2.5)
        var steps: [Int] = []
        let output = try SDXLPipelineTests.pipeline.get().imageToImage(
            try SDXLFixtures.image("input.png"), refiner: handOver, options: reference.options,
            progress: { step, total in steps.append(total); return step < total })
        let expected = try ImageFile.read(Fixtures.url("sdxl-refiner", "\(reference.name).png"))
        let psnr = ImageFidelity.psnr(output, expected, eightBit: true)
        print("\(reference.name): PSNR \(psnr) dB")
        #expect(psnr >= 40, "\(reference.name): PSNR \(psnr) dB")
        // the base's and the refiner's steps are counted as one run
        #expect(Set(steps).count == 1 && steps.count == steps.first)
    }

    // 10 leading steps at strength 0.6: [501, 401, 301, 201, 101, 1]; a switch at 0.8 cuts at 200:
    // the base runs 501...201, the refiner the schedule's 101 and 1 (from step index 8).
    @Test func theSwitchSplitsTheScheduleAsDiffusersDoes() throws {
        let base = SDXLRefiner.baseTimesteps([501, 401, 301, 201, 101, 1], switchAt: 0.8, trainTimesteps: 1000)
        #expect(base == [501, 401, 301, 201])
        let refiner = try Self.refiner.get()
        let options = GenerationOptions(prompt: "", steps: 10)
        let (_, timesteps) = try refiner.scheduler(options, switchAt: 0.8)
        #expect(timesteps == [101, 1])
        // int(round(1000 - 0.75 * 1000)) = 250; round half to even at 0.7505: 249.5 -> 250
        #expect(SDXLRefiner.timestepCutoff(0.7505, trainTimesteps: 1000) == 250)
    }

    @Test func aBaseThatIsNotSDXLIsRefused() throws {
        let handOver = RefinerHandOver(refiner: try Self.refiner.get(), switchAt: 0.8)
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let sd = try StableDiffusion(folder: tinyPipelineFolder(in: scratch))
        #expect(throws: PipelinesError.refinerNeedsSDXLBase(reason: "the model is not SDXL")) {
            try sd.imageToImage(try SDXLFixtures.image("input.png"), refiner: handOver,
                                options: GenerationOptions(prompt: "x", steps: 4, strength: 0.5))
        }
    }

    @Test func aRefinerFolderIsNotABase() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = try tinySDXLRefinerFolder(in: scratch)
        #expect { try StableDiffusion(folder: folder) } throws: { error in
            "\(error.localizedDescription)".contains("give it as the recipe's refiner")
        }
    }

    /// The refiner as one A1111 / Civitai file (sdxl_singlefile_fixtures.py, read back tensor for
    /// tensor by diffusers' from_single_file) with the refiner folder's configs refines as diffusers does.
    @Test func aRefinerSingleFileWithItsConfigsMatchesDiffusers() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let refiner = try SDXLRefiner(singleFile: Fixtures.url("singlefile", "sdxl-refiner-tiny.safetensors"),
                                      configFolder: tinySDXLRefinerFolder(in: scratch))
        let reference = try #require(Self.cases.first { $0.name == "refine_euler_a" })
        let output = try SDXLPipelineTests.pipeline.get().imageToImage(
            try SDXLFixtures.image("input.png"), refiner: RefinerHandOver(refiner: refiner, switchAt: reference.switchAt),
            options: reference.options)
        let psnr = ImageFidelity.psnr(output, try ImageFile.read(Fixtures.url("sdxl-refiner", "refine_euler_a.png")), eightBit: true)
        #expect(psnr >= 40, "PSNR \(psnr) dB")
    }

    /// Without configs, the refiner's sizes come from its shapes and the rest from the 1.0 refiner.
    @Test func aRefinerSingleFilesArchitectureIsReadFromItsShapes() throws {
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("singlefile", "sdxl-refiner-tiny.safetensors")))
        #expect(checkpoint.textEncoderLayout == .sdxlRefiner)
        let architecture = try StableDiffusionArchitecture.inferredRefiner(from: checkpoint)
        #expect(architecture.unet.blockOutChannels == [8, 16, 16])
        #expect(architecture.unet.crossAttentionDim == .shared(16))
        #expect(architecture.unet.projectionClassEmbeddingsInputDim == 12 + 5 * 4)
        #expect(architecture.unet.transformerLayersPerBlock == .perBlock([1, 1, 2]))
        #expect(architecture.textEncoder2.hiddenSize == 16 && architecture.textEncoder2.projectionDim == 12)
        #expect(architecture.textEncoder2.numHiddenLayers == 3 && architecture.textEncoder2.hiddenAct == .gelu)
        #expect(SDXLRefinerArchitecture.sdxlRefiner.unet.projectionClassEmbeddingsInputDim == 1280 + 5 * 256)
    }

    /// The inpainting hand-over: StableDiffusionXLInpaintPipeline to the switch, then the
    /// refiner's from the base's latents (sdxl_refiner_fixtures.py INPAINT_CASES), unpasted.
    @Test(arguments: ["9ch", "4ch_euler_a"])
    func inpaintingHandsOverAsDiffusersDoes(_ name: String) throws {
        let cases: [String: SDXLRefinerCase] = try Fixtures.cases("sdxl-refiner", "inpaint_cases.json")
        let reference = try #require(cases[name])
        let base = try (reference.unet == "inpaint" ? SDXLPipelineTests.inpaintingPipeline : SDXLPipelineTests.pipeline).get()
        var totals: Set<Int> = []
        let output = try base.inpaint(try SDXLFixtures.image("input.png"), mask: Mask(try SDXLFixtures.image("mask.png")),
                                      options: reference.options,
                                      refiner: RefinerHandOver(refiner: try Self.refiner.get(), switchAt: reference.switchAt),
                                      pasteBack: false, progress: { _, total in totals.insert(total); return true })
        let psnr = ImageFidelity.psnr(output, try ImageFile.read(Fixtures.url("sdxl-refiner", "inpaint_\(name).png")), eightBit: true)
        #expect(psnr >= 40, "\(name): PSNR \(psnr) dB")
        #expect(totals.count == 1)
    }
}
