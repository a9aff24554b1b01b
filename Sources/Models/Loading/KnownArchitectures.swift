import Foundation

/// Architectures Overpaint knows by name, with the configs their reference checkpoints ship.
///
/// The values are those of the diffusers folders on the Hugging Face hub:
/// `runwayml/stable-diffusion-v1-5` (`sd15`), `stabilityai/stable-diffusion-2-1-base` (`sd2`),
/// `runwayml/stable-diffusion-inpainting` (`sd15-inpaint`), `lllyasviel/sd-controlnet-canny`
/// (`controlnet`), `stabilityai/stable-diffusion-xl-base-1.0` (`sdxl`),
/// `diffusers/stable-diffusion-xl-1.0-inpainting-0.1` (`sdxl-inpaint`),
/// `stabilityai/stable-diffusion-xl-refiner-1.0` (`sdxl-refiner`) and
/// `diffusers/controlnet-canny-sdxl-1.0` (`controlnet-sdxl`), basicsr's RRDBNet
/// as Real-ESRGAN x4plus uses it (`realesrgan-x4plus`), and `madebyollin/taesd` / `taesdxl`
/// (`taesd`, `taesdxl`: one architecture, diffusers' AutoencoderTiny defaults).
/// They let `models random` write the real architecture, and single-file checkpoints (which
/// carry no configs) borrow the scheduler and tokenizer settings of their family.
public enum KnownArchitecture: String, CaseIterable, Sendable {
    case sd15
    case sd2
    case sd15Inpaint = "sd15-inpaint"
    case sdxl
    case sdxlInpaint = "sdxl-inpaint"
    case sdxlRefiner = "sdxl-refiner"
    case controlNet = "controlnet"
    case controlNetSDXL = "controlnet-sdxl"
    case realESRGANx4plus = "realesrgan-x4plus"
    case taesd
    case taesdxl

    /// The whole text-to-image (or inpainting) pipeline, for the Stable Diffusion names.
    public var pipeline: StableDiffusionArchitecture? {
        switch self {
        case .sd15: return .sd15
        case .sd2: return .sd2
        case .sd15Inpaint: return .sd15Inpaint
        case .sdxl: return .sdxl
        case .sdxlInpaint: return .sdxlInpaint
        case .sdxlRefiner, .controlNet, .controlNetSDXL, .realESRGANx4plus, .taesd, .taesdxl: return nil
        }
    }

    /// The refiner pipeline, for `sdxl-refiner`.
    public var refiner: SDXLRefinerArchitecture? {
        self == .sdxlRefiner ? .sdxlRefiner : nil
    }

    /// The tiny autoencoder's config, for `taesd` and `taesdxl`.
    public var autoencoderTiny: AutoencoderTinyConfig? {
        self == .taesd || self == .taesdxl ? AutoencoderTinyConfig() : nil
    }

    /// The ControlNet config, for `controlnet` and `controlnet-sdxl`.
    public var controlNet: ControlNetConfig? {
        switch self {
        case .controlNet: return .sd15Canny
        case .controlNetSDXL: return .sdxlCanny
        default: return nil
        }
    }

    /// The super-resolution network's sizes, for `realesrgan-x4plus`.
    public var rrdbNet: RRDBNetArchitecture? {
        self == .realESRGANx4plus ? .x4plus : nil
    }
}

/// Every config of a diffusers Stable Diffusion pipeline folder.
public struct StableDiffusionArchitecture: Sendable, Equatable {
    /// `_class_name` of `model_index.json`.
    public var pipelineClass: String
    public var unet: UNet2DConditionConfig
    public var vae: AutoencoderKLConfig
    public var textEncoder: CLIPTextConfig
    /// The tokenizer's `pad_token`: `<|endoftext|>` for SD 1.x, `!` for SD 2.x.
    public var padToken: String
    /// `scheduler/scheduler_config.json` exactly as the reference folder ships it.
    public var schedulerConfigJSON: String
    /// SDXL's `text_encoder_2` (a `CLIPTextModelWithProjection`, whose tokenizer_2 pads with "!").
    public var textEncoder2: CLIPTextConfig?

    /// runwayml/stable-diffusion-v1-5.
    public static let sd15 = StableDiffusionArchitecture(
        pipelineClass: "StableDiffusionPipeline", unet: .sd15, vae: .stableDiffusion(),
        textEncoder: .clipViTL14, padToken: "<|endoftext|>", schedulerConfigJSON: sd1PNDMScheduler)

    /// stabilityai/stable-diffusion-2-1-base (512 pixels, epsilon prediction).
    public static let sd2 = StableDiffusionArchitecture(
        pipelineClass: "StableDiffusionPipeline", unet: .sd21Base, vae: .stableDiffusion(),
        textEncoder: .openCLIPViTH14, padToken: "!", schedulerConfigJSON: sd2PNDMScheduler)

    /// runwayml/stable-diffusion-inpainting: the SD 1.5 UNet taking latents, mask and masked-image
    /// latents (9 channels).
    public static let sd15Inpaint: StableDiffusionArchitecture = {
        var unet = UNet2DConditionConfig.sd15
        unet.inChannels = 9
        return StableDiffusionArchitecture(
            pipelineClass: "StableDiffusionInpaintPipeline", unet: unet, vae: .stableDiffusion(),
            textEncoder: .clipViTL14, padToken: "<|endoftext|>", schedulerConfigJSON: sd1DDIMScheduler)
    }()

    /// stabilityai/stable-diffusion-xl-base-1.0.
    public static let sdxl = StableDiffusionArchitecture(
        pipelineClass: "StableDiffusionXLPipeline", unet: .sdxlBase, vae: .stableDiffusion(sampleSize: 1024, scalingFactor: 0.13025),
        textEncoder: .clipViTL14, padToken: "<|endoftext|>", schedulerConfigJSON: sdxlEulerScheduler,
        textEncoder2: .openCLIPViTBigG14)

    /// diffusers/stable-diffusion-xl-1.0-inpainting-0.1: the SDXL base UNet with 9 input channels.
    public static let sdxlInpaint: StableDiffusionArchitecture = {
        var architecture = StableDiffusionArchitecture.sdxl
        architecture.pipelineClass = "StableDiffusionXLInpaintPipeline"
        architecture.unet.inChannels = 9
        return architecture
    }()

    static let sdxlEulerScheduler = """
    {
      "_class_name": "EulerDiscreteScheduler",
      "_diffusers_version": "0.19.0.dev0",
      "beta_end": 0.012,
      "beta_schedule": "scaled_linear",
      "beta_start": 0.00085,
      "clip_sample": false,
      "interpolation_type": "linear",
      "num_train_timesteps": 1000,
      "prediction_type": "epsilon",
      "sample_max_value": 1.0,
      "set_alpha_to_one": false,
      "skip_prk_steps": true,
      "steps_offset": 1,
      "timestep_spacing": "leading",
      "trained_betas": null,
      "use_karras_sigmas": false
    }
    """

    static let sd1PNDMScheduler = """
    {
      "_class_name": "PNDMScheduler",
      "_diffusers_version": "0.6.0",
      "beta_end": 0.012,
      "beta_schedule": "scaled_linear",
      "beta_start": 0.00085,
      "num_train_timesteps": 1000,
      "set_alpha_to_one": false,
      "skip_prk_steps": true,
      "steps_offset": 1,
      "trained_betas": null,
      "clip_sample": false
    }
    """

    static let sd2PNDMScheduler = """
    {
      "_class_name": "PNDMScheduler",
      "_diffusers_version": "0.10.0.dev0",
      "beta_end": 0.012,
      "beta_schedule": "scaled_linear",
      "beta_start": 0.00085,
      "clip_sample": false,
      "num_train_timesteps": 1000,
      "prediction_type": "epsilon",
      "set_alpha_to_one": false,
      "skip_prk_steps": true,
      "steps_offset": 1,
      "trained_betas": null
    }
    """

    static let sd1DDIMScheduler = """
    {
      "_class_name": "DDIMScheduler",
      "_diffusers_version": "0.6.0.dev0",
      "beta_end": 0.012,
      "beta_schedule": "scaled_linear",
      "beta_start": 0.00085,
      "clip_sample": false,
      "num_train_timesteps": 1000,
      "set_alpha_to_one": false,
      "steps_offset": 1,
      "trained_betas": null,
      "skip_prk_steps": true
    }
    """
}

/// basicsr's `RRDBNet(num_in_ch, num_out_ch, scale, num_feat, num_block, num_grow_ch)`.
public struct RRDBNetArchitecture: Sendable, Equatable {
    public var inChannels = 3
    public var outChannels = 3
    /// 4, 2 or 1; below 4 the input is pixel-unshuffled into `inChannels * (4 / scale)^2` channels.
    public var scale = 4
    public var features = 64
    public var blocks = 23
    public var growth = 32

    /// RealESRGAN_x4plus: 23 residual-in-residual dense blocks, 64 features, growth 32.
    public static let x4plus = RRDBNetArchitecture()

    /// `conv_first`'s input channels.
    public var firstInputChannels: Int { inChannels * (4 / scale) * (4 / scale) }
}

extension UNet2DConditionConfig {
    /// The SD 1.5 UNet (runwayml/stable-diffusion-v1-5 `unet/config.json`).
    public static let sd15: UNet2DConditionConfig = {
        var config = UNet2DConditionConfig()
        config.sampleSize = 64
        config.crossAttentionDim = .shared(768)
        config.attentionHeadDim = .shared(8)
        return config
    }()

    /// The SD 2.1-base UNet: OpenCLIP-H context (1024), heads of width 64, linear projections.
    public static let sd21Base: UNet2DConditionConfig = {
        var config = UNet2DConditionConfig()
        config.sampleSize = 64
        config.crossAttentionDim = .shared(1024)
        config.attentionHeadDim = .perBlock([5, 10, 20, 20])
        config.useLinearProjection = true
        return config
    }()
}

/// stabilityai/stable-diffusion-xl-refiner-1.0: OpenCLIP bigG alone and a UNet conditioned on it
/// with aesthetic-score time ids. Its VAE is the SDXL VAE; `models random` writes it, the
/// pipelines decode with the base's.
public struct SDXLRefinerArchitecture: Sendable, Equatable {
    public var unet: UNet2DConditionConfig
    public var vae: AutoencoderKLConfig
    public var textEncoder2: CLIPTextConfig
    /// `scheduler/scheduler_config.json` as the refiner ships it (SDXL's Euler).
    public var schedulerConfigJSON: String

    public static let sdxlRefiner = SDXLRefinerArchitecture(
        unet: .sdxlRefiner, vae: StableDiffusionArchitecture.sdxl.vae, textEncoder2: .openCLIPViTBigG14,
        schedulerConfigJSON: StableDiffusionArchitecture.sdxlEulerScheduler)
}

extension UNet2DConditionConfig {
    /// The SDXL 1.0 refiner UNet: four levels with attention in the middle two, 4 transformer
    /// layers, heads of width 64, a 1280-wide context (bigG alone) and text_time conditioning on
    /// bigG's pooled 1280 plus five 256-wide time ids (the aesthetic score in place of the target size).
    public static let sdxlRefiner: UNet2DConditionConfig = {
        var config = UNet2DConditionConfig.sdxlBase
        config.blockOutChannels = [384, 768, 1536, 1536]
        config.downBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
        config.upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]
        config.transformerLayersPerBlock = .shared(4)
        config.attentionHeadDim = .perBlock([6, 12, 24, 24])
        config.crossAttentionDim = .shared(1280)
        config.projectionClassEmbeddingsInputDim = 2560
        return config
    }()

    /// The SDXL 1.0 base UNet: three levels, no attention in the first, 1 / 2 / 10 transformer
    /// layers, heads of width 64, a 2048-wide context (CLIP-L and bigG side by side) and text_time
    /// conditioning on bigG's pooled 1280 plus six 256-wide time ids.
    public static let sdxlBase: UNet2DConditionConfig = {
        var config = UNet2DConditionConfig()
        config.sampleSize = 128
        config.blockOutChannels = [320, 640, 1280]
        config.downBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"]
        config.upBlockTypes = ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]
        config.transformerLayersPerBlock = .perBlock([1, 2, 10])
        config.attentionHeadDim = .perBlock([5, 10, 20])
        config.crossAttentionDim = .shared(2048)
        config.useLinearProjection = true
        config.additionEmbedType = "text_time"
        config.additionTimeEmbedDim = 256
        config.projectionClassEmbeddingsInputDim = 2816
        return config
    }()
}

extension CLIPTextConfig {
    /// OpenAI CLIP ViT-L/14's text tower (SD 1.x `text_encoder/config.json`).
    public static let clipViTL14 = CLIPTextConfig(
        vocabSize: 49408, hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12, numAttentionHeads: 12,
        maxPositionEmbeddings: 77, hiddenAct: .quickGELU, layerNormEps: 1e-5, projectionDim: 768,
        padTokenId: 1, bosTokenId: 0, eosTokenId: 2)

    /// OpenCLIP ViT-H/14's text tower as SD 2.x uses it: 23 of its 24 layers (the penultimate
    /// layer's output), exact GELU.
    public static let openCLIPViTH14 = CLIPTextConfig(
        vocabSize: 49408, hiddenSize: 1024, intermediateSize: 4096, numHiddenLayers: 23, numAttentionHeads: 16,
        maxPositionEmbeddings: 77, hiddenAct: .gelu, layerNormEps: 1e-5, projectionDim: 512,
        padTokenId: 1, bosTokenId: 0, eosTokenId: 2)
}

extension CLIPTextConfig {
    /// OpenCLIP ViT-bigG/14's text tower with its projection (SDXL `text_encoder_2/config.json`).
    public static let openCLIPViTBigG14 = CLIPTextConfig(
        vocabSize: 49408, hiddenSize: 1280, intermediateSize: 5120, numHiddenLayers: 32, numAttentionHeads: 20,
        maxPositionEmbeddings: 77, hiddenAct: .gelu, layerNormEps: 1e-5, projectionDim: 1280,
        padTokenId: 1, bosTokenId: 0, eosTokenId: 2)
}

extension ControlNetConfig {
    /// lllyasviel/sd-controlnet-canny: the SD 1.5 contracting path plus a hint encoder.
    public static let sd15Canny: ControlNetConfig = {
        var config = ControlNetConfig()
        config.crossAttentionDim = 768
        config.attentionHeadDim = .shared(8)
        return config
    }()

    /// diffusers/controlnet-canny-sdxl-1.0: the SDXL base's contracting path (three levels, 1 / 2 /
    /// 10 transformer layers, text_time) plus the hint encoder.
    public static let sdxlCanny: ControlNetConfig = {
        let base = UNet2DConditionConfig.sdxlBase
        var config = ControlNetConfig()
        config.blockOutChannels = base.blockOutChannels
        config.downBlockTypes = base.downBlockTypes
        config.transformerLayersPerBlock = base.transformerLayersPerBlock
        config.attentionHeadDim = base.attentionHeadDim
        config.crossAttentionDim = 2048
        config.useLinearProjection = true
        config.additionEmbedType = base.additionEmbedType
        config.additionTimeEmbedDim = base.additionTimeEmbedDim
        config.projectionClassEmbeddingsInputDim = base.projectionClassEmbeddingsInputDim
        return config
    }()
}

/// `config.json` text for a diffusers model: the config's keys plus `_class_name` and
/// `_diffusers_version`, sorted, as `save_pretrained` writes them.
public func diffusersConfigJSON<Config: Encodable>(_ config: Config, className: String,
                                                   library: String = "_diffusers_version",
                                                   version: String = "0.42.1") throws -> Data {
    let encoded = try JSONEncoder().encode(config)
    guard var object = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else {
        throw ModelsError.badConfig(path: className, detail: "config does not encode as a JSON object")
    }
    if library == "_diffusers_version" {
        object["_class_name"] = className
    } else {
        object["architectures"] = [className]
    }
    object[library] = version
    return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
}
