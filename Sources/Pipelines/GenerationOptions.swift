import Foundation
import Schedulers

/// What one image is generated with. The defaults are diffusers' StableDiffusionImg2ImgPipeline
/// `__call__` defaults (50 steps, guidance 7.5, strength 0.8, eta 0), so a call that sets
/// nothing matches the reference call that sets nothing. Recipes have defaults of their own
/// (`Recipes.Edit.Generation`: 30 steps, img2img strength 0.75, inpaint strength 1), which
/// Batch passes explicitly.
public struct GenerationOptions: Sendable, Equatable {
    public var prompt: String
    /// The negative prompt; "" gives diffusers' unconditional embeddings (of the empty string).
    public var negativePrompt: String
    public var steps: Int
    /// Classifier-free guidance scale; at or below 1 the UNet runs once per step, unguided.
    public var guidanceScale: Float
    /// How much of the schedule runs (img2img / inpaint `strength`), in (0, 1], keeping at
    /// least one step (`DenoisingStrength.stepsRun(strength, of: steps) >= 1`).
    public var strength: Double
    /// The seed of the `torch.Generator("cpu")` every random draw comes from.
    public var seed: UInt64
    /// A scheduler by recipe name, configured from the model's scheduler config; nil runs the
    /// model's own scheduler class.
    public var scheduler: SchedulerName?
    /// DDIM's eta and TCD's gamma (ignored by other schedulers, as diffusers does).
    public var eta: Float
    /// Skip the last `clipSkip` CLIP layers (diffusers' `clip_skip`); nil or 0 skips none.
    public var clipSkip: Int?
    /// SDXL: the second text encoder's prompt (diffusers' `prompt_2`); nil: `prompt`.
    public var prompt2: String?
    /// SDXL: the second text encoder's negative prompt (`negative_prompt_2`); nil: `negativePrompt`.
    public var negativePrompt2: String?
    /// Whether `negativePrompt` was given. SDXL models with `force_zeros_for_empty_prompt` guide
    /// against zero embeddings when it was not, as diffusers does for `negative_prompt=None`;
    /// SD 1.x / 2.x encode "" either way.
    public var negativePromptGiven: Bool
    /// SDXL's `original_size`, `crops_coords_top_left`, `target_size`; defaults as diffusers'.
    public var sdxlSize = SDXLSizeConditioning()

    public init(prompt: String, negativePrompt: String = "", steps: Int = 50, guidanceScale: Float = 7.5,
                strength: Double = 0.8, seed: UInt64 = 0, scheduler: SchedulerName? = nil, eta: Float = 0,
                clipSkip: Int? = nil, prompt2: String? = nil, negativePrompt2: String? = nil,
                negativePromptGiven: Bool = false, sdxlSize: SDXLSizeConditioning = SDXLSizeConditioning()) {
        self.sdxlSize = sdxlSize
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.strength = strength
        self.seed = seed
        self.scheduler = scheduler
        self.eta = eta
        self.clipSkip = clipSkip
        self.prompt2 = prompt2
        self.negativePrompt2 = negativePrompt2
        self.negativePromptGiven = negativePromptGiven
    }

    /// What the scheduler is built with beyond the model's config.
    public var schedulerOptions: SchedulerOptions { SchedulerOptions(eta: eta) }

    /// diffusers' `do_classifier_free_guidance`.
    public var usesGuidance: Bool { guidanceScale > 1 }
}

/// Called before each denoising step with the step's index (from 0) and the step count;
/// returning false stops the pipeline, which then throws `PipelinesError.cancelled`.
public typealias StepCallback = (_ step: Int, _ total: Int) -> Bool

/// `progress` for one loop of several counted as one run: its steps numbered from `offset` of
/// `total` (a refiner's after the base's, regeneration after inversion).
func counted(_ progress: StepCallback?, from offset: Int, of total: Int) -> StepCallback? {
    progress.map { report in { step, _ in report(offset + step, total) } }
}
