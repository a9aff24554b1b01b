import Foundation
import Imaging
import Models
import Tensors
import Testing
@testable import Pipelines

/// Loading, prompt handling, progress and argument checks of the shared pipeline.
@Suite struct StableDiffusionTests {
    static let pipeline = Result { try PipelineFixtures.pipeline(inpainting: false) }

    static func options(strength: Double = 0.75, guidance: Float = 7.5) -> GenerationOptions {
        GenerationOptions(prompt: PipelineFixtures.prompt, steps: 10, guidanceScale: guidance, strength: strength,
                          seed: 42)
    }

    @Test func loadsEveryComponentWithTheVAEScaleFactorOfSD() throws {
        let pipeline = try Self.pipeline.get()
        #expect(pipeline.vaeScaleFactor == 8)
        #expect(pipeline.unet.config.inChannels == 4)
        #expect(pipeline.schedulerConfig.className == "PNDMScheduler")
    }

    @Test func guidanceStacksNegativeThenPositiveEmbeddings() throws {
        let pipeline = try Self.pipeline.get()
        var options = Self.options()
        options.negativePrompt = "blurry"
        let states = try pipeline.encoderHiddenStates(options)
        #expect(states.shape == [2, 77, 16])
        #expect(try states.sliced(axis: 0, 0..<1) == pipeline.textEmbeddings("blurry"))
        #expect(try states.sliced(axis: 0, 1..<2) == pipeline.textEmbeddings(PipelineFixtures.prompt))
        #expect(try pipeline.textEmbeddings("") != pipeline.textEmbeddings("blurry"))
    }

    @Test func guidanceOfOneUsesThePromptAlone() throws {
        let pipeline = try Self.pipeline.get()
        let states = try pipeline.encoderHiddenStates(Self.options(guidance: 1))
        #expect(states.shape == [1, 77, 16])
    }

    @Test func progressSeesEveryStepAndCanCancel() throws {
        let pipeline = try Self.pipeline.get()
        let image = try PipelineFixtures.image("input.png")
        var calls: [[Int]] = []
        #expect(throws: PipelinesError.cancelled(step: 2)) {
            try pipeline.imageToImage(image, options: Self.options()) { step, total in
                calls.append([step, total])
                return step < 2
            }
        }
        // PNDM (skip_prk_steps) with 10 steps has 11 timesteps, [901, 801, 801, 701, ..., 1];
        // strength 0.75 keeps timesteps[10 - int(7.5):], 8 of them, and diffusers loops over all 8
        #expect(calls == [[0, 8], [1, 8], [2, 8]])
    }

    @Test func strengthLeavingNoStepIsRejected() throws {
        let pipeline = try Self.pipeline.get()
        let image = try PipelineFixtures.image("input.png")
        #expect(throws: PipelinesError.invalidStrength(strength: 0.05, steps: 10)) {
            try pipeline.imageToImage(image, options: Self.options(strength: 0.05))
        }
    }

    @Test func imagesAreWorkedOnAtAMultipleOfEight() throws {
        #expect(try ImageConversion.workingSize(width: 70, height: 66, multiple: 8) == (width: 64, height: 64))
        #expect(throws: PipelinesError.imageTooSmall(width: 7, height: 64, multiple: 8)) {
            try ImageConversion.workingSize(width: 7, height: 64, multiple: 8)
        }
    }

    // torch.nn.functional.interpolate(torch.arange(36.).reshape(1, 1, 6, 6), size=(4, 4))
    //   rows/cols picked: floor(i * 1.5) = 0, 1, 3, 4
    @Test func latentMaskIsNearestAsTorch() {
        let mask = Tensor(shape: [1, 1, 6, 6], scalars: (0..<36).map(Float.init))
        let resized = ImageConversion.nearestResized(mask, width: 4, height: 4)
        #expect(resized.scalars == [0, 1, 3, 4, 6, 7, 9, 10, 18, 19, 21, 22, 24, 25, 27, 28])
    }

    @Test func clipSkipBeyondTheLayersIsRejected() throws {
        let pipeline = try Self.pipeline.get()
        var options = Self.options()
        options.clipSkip = 3
        #expect(throws: PipelinesError.invalidClipSkip(clipSkip: 3, layers: 2)) {
            try pipeline.encoderHiddenStates(options)
        }
    }

    @Test func promptCacheKeepsTheNewestPrompts() {
        let cache = PromptCache<Tensor>(capacity: 2)
        var computed: [String] = []
        func lookUp(_ prompt: String) {
            _ = cache.embeddings(for: prompt, clipSkip: nil) {
                computed.append(prompt)
                return Tensor(zeros: [1])
            }
        }
        for prompt in ["a", "a", "b", "c", "b", "a"] { lookUp(prompt) }
        // "a" is dropped when "c" arrives, "b" stays cached
        #expect(computed == ["a", "b", "c", "a"])
    }

    /// Past a megapixel the pipeline runs its VAE in diffusers' tiles (sd-tiny's: 64 pixels, 8
    /// latents); up to it, whole. A tiled decode is not the untiled one, so this is visible.
    @Test func imagesPastAMegapixelGoThroughTheVAEInTiles() throws {
        let pipeline = try Self.pipeline.get()
        #expect(StableDiffusion.vaeTilingPixelThreshold == 1024 * 1024)
        #expect(pipeline.vae(forHeight: 1024, width: 1024).tiling == nil)
        #expect(pipeline.vae(forHeight: 1024, width: 1032).tiling == VAETiling(sampleTileSize: 64, latentTileSize: 8))
        var generator = TorchGenerator(seed: 3)
        let latents = generator.randn([1, 4, 12, 12])
        let small = pipeline.vae(forHeight: 96, width: 96, threshold: 96 * 96)
        let large = pipeline.vae(forHeight: 96, width: 96, threshold: 96 * 96 - 1)
        let whole = pipeline.vae.decode(latents)
        // Threaded sums may differ in the last bits between two runs of one decode.
        let largestDifference = { (other: Tensor) in zip(other.scalars, whole.scalars).map { abs($0 - $1) }.max() ?? 0 }
        #expect(largestDifference(small.decode(latents)) < 1e-5)
        let tiled = large.decode(latents)
        #expect(tiled.shape == [1, 3, 96, 96])
        #expect(largestDifference(tiled) > 1e-2)
    }
}
