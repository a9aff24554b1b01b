import Foundation
import Imaging
import Models
import OverpaintTestSupport
import Schedulers
import Testing
@testable import Pipelines

/// Fixtures written by tools/reference/sdxl_fixtures.py.
enum SDXLFixtures {
    static let folder = Fixtures.root.appendingPathComponent("sdxl")
    static let prompt = "an astronaut in a garden, oil painting"

    static func pipeline(inpainting: Bool = false) throws -> StableDiffusion {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try StableDiffusion(folder: tinySDXLFolder(in: scratch, inpainting: inpainting))
    }

    static func image(_ name: String) throws -> Image { try Fixtures.image("sdxl", name) }

    /// sdxl_fixtures.py's CASES.
    static let cases: [SDXLReferenceCase] = Fixtures.namedCases("sdxl", "cases.json")
}

/// One case of sdxl_fixtures.py's CASES.
typealias SDXLReferenceCase = PipelineReferenceCase<SDXLReferenceCaseKeys>

/// sdxl_fixtures.py's own keys, under its names (sdxl_controlnet_inpaint_fixtures.py writes
/// `unet` and `scale` of them).
struct SDXLReferenceCaseKeys: Decodable, Sendable {
    let kind: String?
    let unet: String?
    let prompt_2: String?
    let negative_2: String?
    /// The ControlNet's scale and window, for the controlnet cases.
    let scale: Float?
    let start: Double?
    let end: Double?
    /// The scheduler config the model ships, where it differs from sdxl-tiny's (SDXL-Turbo's).
    let scheduler_class: String?
    let timestep_spacing: String?
    let original_size: [Int]?
    let crops_coords_top_left: [Int]?
    let target_size: [Int]?
}

extension PipelineReferenceCase<SDXLReferenceCaseKeys> {
    /// As the script calls the pipeline: `negative_prompt=None` where the case has none.
    var options: GenerationOptions {
        var generation = options(prompt: SDXLFixtures.prompt)
        generation.prompt2 = keys.prompt_2
        generation.negativePrompt2 = keys.negative_2
        generation.sdxlSize = SDXLSizeConditioning(originalSize: keys.original_size, cropTopLeft: keys.crops_coords_top_left,
                                                   targetSize: keys.target_size)
        return generation
    }
}

/// StableDiffusionXLImg2ImgPipeline, StableDiffusionXLInpaintPipeline (9-channel UNet, and the
/// base one with latent blending; no paste-back, as diffusers returns the decoded image) and
/// StableDiffusionXLControlNetImg2ImgPipeline (the text_time ControlNet on the Canny map of the
/// input, cv2.Canny(image, 100, 200)) on the tiny SDXL pipeline, with PROMPT, each case's parameters and
/// `generator=torch.Generator("cpu").manual_seed(seed)`, against diffusers' PNG.
@Suite struct SDXLPipelineTests {
    static let pipeline = Result { try SDXLFixtures.pipeline() }
    static let inpaintingPipeline = Result { try SDXLFixtures.pipeline(inpainting: true) }
    static let controlNet = Result { try ControlNetModel(folder: SDXLFixtures.folder.appendingPathComponent("controlnet")) }

    @Test func everyReferenceCaseIsListed() {
        #expect(SDXLFixtures.cases.count == 9)
    }

    @Test func loadsBothEncodersAndTheSettings() throws {
        let pipeline = try Self.pipeline.get()
        let sdxl = try #require(pipeline.sdxl)
        #expect(sdxl.forceZerosForEmptyPrompt)
        #expect(!sdxl.requiresAestheticsScore)
        #expect(sdxl.tokenizer2.padTokenID == 0)
        #expect(pipeline.vae.config.scalingFactor == 0.13025)
    }

    @Test(arguments: SDXLFixtures.cases)
    func matchesDiffusers(_ reference: SDXLReferenceCase) throws {
        let image = try SDXLFixtures.image("input.png")
        let output: Image
        if reference.kind == "inpaint" {
            let pipeline = try (reference.unet == "inpaint" ? Self.inpaintingPipeline : Self.pipeline).get()
            output = try pipeline.inpaint(image, mask: Mask(try SDXLFixtures.image("mask.png")), options: reference.options,
                                          pasteBack: false)
        } else if reference.kind == "controlnet" {
            let control = ControlInput(model: try Self.controlNet.get(), condition: try Canny.edges(of: image, low: 100, high: 200),
                                       scale: reference.scale ?? 1, start: reference.start ?? 0, end: reference.end ?? 1)
            output = try Self.pipeline.get().imageToImage(image, controls: [control], options: reference.options)
        } else {
            output = try Self.pipeline(shipping: reference).imageToImage(image, options: reference.options)
        }
        expectMatchesReference(output, try SDXLFixtures.image("\(reference.name).png"), reference.name)
    }

    /// sdxl-tiny, or its components with the scheduler config the case's model ships.
    static func pipeline(shipping reference: SDXLReferenceCase) throws -> StableDiffusion {
        let pipeline = try Self.pipeline.get()
        guard let className = reference.scheduler_class else { return pipeline }
        var config = pipeline.schedulerConfig
        config.className = className
        config.timestepSpacing = reference.timestep_spacing
        return StableDiffusion(tokenizer: pipeline.tokenizer, textEncoder: pipeline.textEncoder, unet: pipeline.unet,
                               vae: pipeline.vae, schedulerConfig: config, sdxl: pipeline.sdxl)
    }

    /// Replacing the VAE (`vae:`, a tiny autoencoder included) keeps the SDXL text conditioning;
    /// the SDXL UNet cannot run without it. A tiny autoencoder encodes too unless told not to
    /// (`vae_encoder: full`); a full VAE refuses to be told it is tiny.
    @Test func aVAEOverrideKeepsTheSDXLConditioning() throws {
        let pipeline = try Self.pipeline.get()
        let fullVAE = SDXLFixtures.folder.appendingPathComponent("sdxl-tiny/vae")
        let replaced = try pipeline.replacingVAE(with: fullVAE)
        #expect(replaced.sdxl != nil && replaced.tinyVAE == nil)
        let tiny = try pipeline.replacingVAE(with: Fixtures.url("taesd", "taesd"))
        #expect(tiny.sdxl != nil && tiny.tinyVAE != nil && tiny.tinyVAEEncodes)
        #expect(try !pipeline.replacingVAE(with: Fixtures.url("taesd", "taesd"), tinyEncodes: false).tinyVAEEncodes)
        #expect(throws: ModelsError.self) { try pipeline.replacingVAE(with: fullVAE, tinyEncodes: true) }
    }

    // _get_add_time_ids((64, 64), (0, 0), (64, 64), ...) -> [64, 64, 0, 0, 64, 64] for both halves;
    // with requires_aesthetics_score: [64, 48, 0, 0, 6.0] and the negative [64, 48, 0, 0, 2.5]
    @Test func timeIDsAreDiffusersDefaults() throws {
        let pipeline = try Self.pipeline.get()
        let base = try #require(pipeline.sdxl).timeIDs(width: 64, height: 64)
        #expect(base.positive.scalars == [64, 64, 0, 0, 64, 64])
        #expect(base.negative.scalars == base.positive.scalars)
        let refiner = SDXLTextConditioning(tokenizer2: try #require(pipeline.sdxl).tokenizer2,
                                           textEncoder2: try #require(pipeline.sdxl).textEncoder2,
                                           requiresAestheticsScore: true)
        let ids = refiner.timeIDs(width: 48, height: 64)
        #expect(ids.positive.scalars == [64, 48, 0, 0, 6])
        #expect(ids.negative.scalars == [64, 48, 0, 0, 2.5])
        // original_size=(1024, 768), crops_coords_top_left=(16, 8), target_size=(96, 80): the
        // negative ids take crops_coords_top_left too (pipeline_stable_diffusion_xl_img2img.py:
        // add_neg_time_ids = list(negative_original_size + crops_coords_top_left + negative_target_size))
        let given = try #require(pipeline.sdxl).timeIDs(
            width: 64, height: 64,
            sizes: SDXLSizeConditioning(originalSize: [1024, 768], cropTopLeft: [16, 8], targetSize: [96, 80]))
        #expect(given.positive.scalars == [1024, 768, 16, 8, 96, 80])
        #expect(given.negative.scalars == [1024, 768, 16, 8, 96, 80])
    }

    @Test func aestheticTimeIDsDoNotFitABaseUNet() throws {
        let pipeline = try Self.pipeline.get()
        let xl = try #require(pipeline.sdxl)
        let refinerSettings = SDXLTextConditioning(tokenizer2: xl.tokenizer2, textEncoder2: xl.textEncoder2,
                                                   requiresAestheticsScore: true)
        let mismatched = StableDiffusion(tokenizer: pipeline.tokenizer, textEncoder: pipeline.textEncoder,
                                         unet: pipeline.unet, vae: pipeline.vae,
                                         schedulerConfig: pipeline.schedulerConfig, sdxl: refinerSettings)
        #expect(throws: PipelinesError.incompatibleAddedConditions(expected: 36, found: 32)) {
            try mismatched.imageToImage(try SDXLFixtures.image("input.png"),
                                        options: GenerationOptions(prompt: "a cat", steps: 2, strength: 0.5))
        }
    }

    @Test func anSDControlNetDoesNotFitAnSDXLUNet() throws {
        let sdControlNet = try ControlNetModel(folder: PipelineFixtures.folder.appendingPathComponent("controlnet_tiny"))
        let image = try SDXLFixtures.image("input.png")
        #expect(throws: PipelinesError.self) {
            try Self.pipeline.get().imageToImage(image, controls: [ControlInput(model: sdControlNet, condition: image)],
                                                 options: GenerationOptions(prompt: "a cat", steps: 2, strength: 0.5))
        }
    }

    @Test func pipelinesNotYetWiredForSDXLSayWhich() throws {
        #expect(throws: PipelinesError.unsupportedForSDXL(pipeline: "this pipeline")) {
            try Self.pipeline.get().encoderHiddenStates(GenerationOptions(prompt: "a cat"))
        }
    }

    /// The `edit` on SDXL: DDIM inversion under the source prompt with SDXL's conditioning, then
    /// StableDiffusionXLPipeline (with a ControlNet, StableDiffusionXLControlNetPipeline) from the
    /// inverted latents (tools/reference/sdxl_inversion_fixtures.py).
    @Test(arguments: ["edit", "edit_canny"])
    func theDDIMInversionEditMatchesItsReference(_ name: String) throws {
        let image = try SDXLFixtures.image("input.png")
        let options = GenerationOptions(prompt: SDXLFixtures.prompt, steps: 10, guidanceScale: 5, seed: 42)
        let controls = name == "edit_canny"
            ? [ControlInput(model: try Self.controlNet.get(), condition: try Canny.edges(of: image, low: 100, high: 200), scale: 0.8)]
            : []
        let output = try Self.pipeline.get().invertAndEdit(image, sourcePrompt: "an astronaut", options: options, controls: controls)
        let psnr = ImageFidelity.psnr(output, try SDXLFixtures.image("inversion_\(name).png"), eightBit: true)
        #expect(psnr >= 40, "\(name): PSNR \(psnr) dB")
    }
}

/// StableDiffusionXLControlNetInpaintPipeline on the tiny SDXL pipeline, its 9-channel UNet and
/// its base one, with the text_time ControlNet on the Canny map of the input
/// (tools/reference/sdxl_controlnet_inpaint_fixtures.py), unpasted as diffusers returns it.
@Test(arguments: ["9ch", "4ch_euler_a"])
func sdxlControlNetInpaintMatchesDiffusers(_ name: String) throws {
    let cases: [String: SDXLReferenceCase] = try Fixtures.cases("sdxl", "controlnet_inpaint_cases.json")
    let reference = try #require(cases[name])
    let pipeline = try (reference.unet == "inpaint" ? SDXLPipelineTests.inpaintingPipeline : SDXLPipelineTests.pipeline).get()
    let image = try SDXLFixtures.image("input.png")
    let control = ControlInput(model: try SDXLPipelineTests.controlNet.get(),
                               condition: try Canny.edges(of: image, low: 100, high: 200), scale: try #require(reference.scale))
    let output = try pipeline.inpaint(image, mask: Mask(try SDXLFixtures.image("mask.png")),
                                      options: reference.options, controls: [control], pasteBack: false)
    let psnr = ImageFidelity.psnr(output, try SDXLFixtures.image("controlnet_inpaint_\(name).png"), eightBit: true)
    #expect(psnr >= 40, "\(name): PSNR \(psnr) dB")
}
