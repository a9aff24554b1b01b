import Foundation
import Schedulers

/// A validated recipe: what to read, what to do to each image, where to write it.
///
/// The keys mirror RECIPES.md; paths are already resolved against the recipe's folder and
/// `${ENV}` references expanded.
public struct Recipe: Sendable, Equatable {
    public var version: Int
    public var description: String
    /// Diffusers folder or single-file checkpoint, absolute.
    public var model: String?
    public var seed: UInt64?
    /// `seed: -1` (A1111's "random"): the run draws a seed, says which, and records it.
    public var seedIsRandom = false
    public var match: Match
    public var output: Output
    public var edits: [Edit]
    /// The file the recipe was read from; for standard input, `-` in the working directory.
    public var source: URL
    /// How messages name the recipe: its path, or "standard input".
    public var sourceName: String { Self.name(of: source) }
    static let standardInputName = "standard input"

    static func name(of source: URL) -> String {
        source.lastPathComponent == RecipeLoader.standardInput ? standardInputName : source.path
    }
    /// A VAE that replaces every generation edit's model's own (`vae:`): a diffusers
    /// `AutoencoderKL` or `AutoencoderTiny` folder or a single `.safetensors` VAE, absolute; or
    /// one of `tinyAutoencoderNames`, found in the model folders when the run starts.
    public var vae: String?
    /// The names `vae:` may give instead of a path: madebyollin's TAESD for SD 1.x / 2.x and
    /// TAESDXL for SDXL, as diffusers `AutoencoderTiny` folders of those names.
    public static let tinyAutoencoderNames: Set<String> = ["taesd", "taesdxl"]
    /// Which autoencoder encodes when `vae:` is a tiny one (`vae_encoder:`); nil: the tiny one,
    /// as diffusers' pipelines with `vae=AutoencoderTiny` (the parity promise).
    public var vaeEncoder: VAEEncoder?
    /// `full` (A1111's "VAE type for encode: Full"): the model's own VAE encodes and the tiny one
    /// only decodes, for TAESD's encoder is lossier (diffusers warns it darkens img2img latents);
    /// `tiny`: the default said outright, which a full `vae:` refuses.
    public enum VAEEncoder: String, Sendable, CaseIterable { case full, tiny }
    /// LoRA / LyCORIS files fused into every generation edit's model (`loras:`), before those the
    /// prompt names.
    public var loras: [LoRA] = []
    /// Where the LoRAs prompts name (`<lora:name:weight>`) are found.
    public var loraFolders: NamedFileFolders
    /// Textual inversion files added to every generation edit's model (`embeddings:`), absolute;
    /// those of `embeddingFolders` whose stem a prompt writes are added too.
    public var embeddings: [String] = []
    public var embeddingFolders: NamedFileFolders

    /// One `loras:` entry: an adapter file (absolute) and its weight (`fuse_lora(lora_scale=)`).
    public struct LoRA: Sendable, Equatable, Hashable {
        public var path: String
        public var weight: Double

        public init(path: String, weight: Double) {
            self.path = path
            self.weight = weight
        }
    }

    public struct Match: Sendable, Equatable {
        public var images: [String]
        public var mask: Template?
        public var control: Template?
        public var prompt: Template?
    }

    public struct Output: Sendable, Equatable {
        public var path: Template
        /// `nil`: chosen from the output path's extension.
        public var format: OutputFormat?
        public var quality: Int
        public var metadata: OutputMetadata
    }

    /// Whether any edit needs a mask file per image.
    public var needsMask: Bool { edits.contains { $0.needsMask } }
    /// Whether any edit needs a control map file per image.
    public var needsControlFile: Bool { edits.contains { $0.needsControlFile } }
}

public enum OutputFormat: String, Sendable, Equatable, CaseIterable {
    case png, jpeg, tiff, webp

    public init?(extension ext: String) {
        switch ext.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "tif", "tiff": self = .tiff
        case "webp": self = .webp
        default: return nil
        }
    }
}

/// What an output carries besides the A1111 parameters (`output.metadata`).
public enum OutputMetadata: String, Sendable, Equatable, CaseIterable {
    /// The input's EXIF and ICC profile, as photo users expect an edit to keep them.
    case keep
    /// Nothing of the input's.
    case strip
}

/// One step of a recipe; each edit's output feeds the next.
public enum Edit: Sendable, Equatable {
    case img2img(Generation)
    case inpaint(Inpaint)
    case edit(Inversion)
    case fill(Fill)
    case upscale(Upscale)
    case resize(Resize)
    case canny(Canny)

    /// The recipe key naming this edit.
    public var name: String {
        switch self {
        case .img2img: "img2img"
        case .inpaint: "inpaint"
        case .edit: "edit"
        case .fill: "fill"
        case .upscale: "upscale"
        case .resize: "resize"
        case .canny: "canny"
        }
    }

    public var needsMask: Bool {
        switch self {
        case .inpaint, .fill: true
        default: false
        }
    }

    public var needsControlFile: Bool {
        let controls: [Control]
        switch self {
        case .img2img(let g): controls = g.control
        case .inpaint(let i): controls = i.generation.control
        case .edit(let e): controls = e.generation.control
        default: controls = []
        }
        return controls.contains { $0.type == .depth && $0.source == .file }
    }

    /// What img2img, inpaint and edit generate with. The defaults here are what a recipe that
    /// sets nothing runs with (the pipelines' own defaults are diffusers' and are not used).
    public struct Generation: Sendable, Equatable {
        public var prompt = ""
        public var negativePrompt = ""
        /// Whether the recipe gives `negative_prompt`: SDXL guides against zeros where it does not
        /// (diffusers' `negative_prompt=None` with `force_zeros_for_empty_prompt`).
        public var negativePromptGiven = false
        /// SDXL's second-encoder prompts (`prompt_2`, `negative_prompt_2`); nil: the first ones.
        public var prompt2: String?
        public var negativePrompt2: String?
        /// SDXL's size conditioning in diffusers' order: `original_size` and `target_size` as
        /// [height, width], `crops_coords_top_left` as [top, left]; nil: diffusers' defaults (the
        /// working size, no crop).
        public var originalSize: [Int]?
        public var cropTopLeft: [Int]?
        public var targetSize: [Int]?
        /// The share of the schedule that runs, with at least one step (`int(steps * strength)
        /// >= 1`). 1, the whole schedule, is inpaint's default (diffusers' inpaint pipeline
        /// starts the masked region from pure noise) and what edit always runs; img2img
        /// defaults to `img2imgStrength`.
        public var strength = 1.0
        public var steps = 30
        public var guidance = 7.5
        /// `nil`: the model's own scheduler config.
        public var scheduler: SchedulerName?
        /// DDIM's eta or TCD's gamma, 0...1 (other schedulers ignore it); `tcdGamma` for TCD
        /// where the recipe gives none.
        public var eta = 0.0
        /// A1111's "Clip skip": the prompt is encoded by the text encoder's layers up to the
        /// `clipSkip`-th from the end (1, the last, is the ordinary encoding; 2 the penultimate).
        public var clipSkip = 1
        public var model: String?
        public var control: [Control] = []
        /// The SDXL refiner that finishes this img2img edit (the recipe's `refiner:`), nil for none.
        public var refiner: Refiner?

        /// img2img's strength where the recipe gives none: A1111's default denoising strength.
        public static let img2imgStrength = 0.75
        /// TCD's gamma where the recipe gives no `eta`: diffusers' TCDScheduler default, which
        /// its authors recommend (diffusers' pipelines would pass their own eta default, 0).
        public static let tcdGamma = 0.3
        /// The largest `clip_skip` (A1111's slider goes to 12, SD 1.x's layer count).
        public static let maximumClipSkip = 12

        /// `clipSkip` in diffusers' meaning (`clip_skip`: how many final layers are skipped),
        /// nil for none.
        public var skippedCLIPLayers: Int? { clipSkip > 1 ? clipSkip - 1 : nil }
    }

    /// diffusers' base -> refiner hand-over: the base denoises the timesteps at or above the
    /// `switchAt` share of the schedule (`denoising_end`), the refiner, a diffusers SDXL refiner
    /// folder, the rest (`denoising_start`), from the base's latents, with one generator.
    public struct Refiner: Sendable, Equatable {
        public var model: String
        /// `refiner_switch`, strictly between 0 and 1.
        public var switchAt: Double
        /// `aesthetic_score` and `negative_aesthetic_score`: what the refiner's time ids end with.
        public var aestheticScore: Double
        public var negativeAestheticScore: Double

        /// `refiner_switch` where the recipe gives none: diffusers' documented `high_noise_frac`.
        public static let defaultSwitch = 0.8
        /// diffusers' defaults for the aesthetic scores.
        public static let defaultScores = (positive: 6.0, negative: 2.5)

        public init(model: String, switchAt: Double = defaultSwitch, aestheticScore: Double = defaultScores.positive,
                    negativeAestheticScore: Double = defaultScores.negative) {
            self.model = model
            self.switchAt = switchAt
            self.aestheticScore = aestheticScore
            self.negativeAestheticScore = negativeAestheticScore
        }
    }

    public struct Control: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable { case canny, depth }
        public enum Source: String, Sendable, CaseIterable { case file, estimate }
        public var type: Kind
        public var model: String
        public var scale: Double
        public var start: Double
        public var end: Double
        public var low: Int
        public var high: Int
        public var source: Source
        public var depthModel: String?
    }

    public struct Inpaint: Sendable, Equatable {
        public enum Area: String, Sendable, CaseIterable { case whole, masked }
        public enum FillMode: String, Sendable, CaseIterable {
            case original, fill, noise
            case latentNothing = "latent_nothing"
        }
        public var generation: Generation
        public var maskBlur: Int
        public var maskGrow: Int
        public var area: Area
        public var padding: Int
        public var fill: FillMode
        public var resizeMask: Bool
        /// The size `area: masked` works at; nil: the model's default (its VAE's sample size).
        public var width: Int?
        public var height: Int?
    }

    public struct Inversion: Sendable, Equatable {
        public var sourcePrompt: String
        public var generation: Generation
    }

    public struct Fill: Sendable, Equatable {
        public enum Method: String, Sendable, CaseIterable { case telea, patchmatch }
        public var method: Method
        /// Telea's neighbourhood radius in pixels (cv2.inpaint's inpaintRadius).
        public var radius: Int
        /// Pixels to grow the mask by before filling, so object edges go too.
        public var maskGrow: Int
        public var resizeMask: Bool
    }

    public struct Upscale: Sendable, Equatable {
        public var model: String
        public var scale: Double
        public var tile: Int
        public var tileOverlap: Int
        /// What the SD x4 upscaler runs with (Real-ESRGAN takes none of it); defaults are
        /// StableDiffusionUpscalePipeline's.
        public var diffusion = Diffusion()

        public struct Diffusion: Sendable, Equatable {
            public var prompt = ""
            public var negativePrompt = ""
            /// The low-resolution image's noise, 0...the model's max_noise_level.
            public var noiseLevel = 20
            public var steps = 75
            public var guidance = 9.0
            /// `nil`: the model's own scheduler config.
            public var scheduler: SchedulerName?
            public var eta = 0.0
        }
    }

    public struct Resize: Sendable, Equatable {
        public enum Mode: String, Sendable, CaseIterable { case fit, fill, stretch }
        public enum Filter: String, Sendable, CaseIterable { case lanczos, bicubic, bilinear, nearest }
        public var width: Int
        public var height: Int
        public var mode: Mode
        public var filter: Filter
    }

    public struct Canny: Sendable, Equatable {
        public var low: Int
        public var high: Int
    }
}
