import Foundation
import Weights

/// The configs of a single-file checkpoint (which carries none), as diffusers'
/// `from_single_file` derives them: sizes from the tensor shapes, the rest from the family.
///
/// Read from shapes: block channels, layers per block, transformer depth, in/out channels
/// (4 or 9), cross-attention width, linear or 1x1-conv projections, VAE channels and latent
/// channels, text width, depth, MLP width, vocabulary and context length. From the family:
/// heads (SD 1.x UNet 8 heads; otherwise, and for linear-projection UNets, heads of width 64;
/// CLIP heads = width / 64), 32 norm groups (LDM's GroupNorm32), the activation (OpenCLIP: exact
/// GELU), the tokenizer's pad token and the scheduler config.
///
/// Limitations: like diffusers without `global_step`, an SD 2.x file is taken for SD 2.1-v
/// (`v_prediction`, DDIM); GroupNorm group counts other than 32 cannot be seen in the weights.
extension StableDiffusionArchitecture {
    public static func inferred(from checkpoint: SingleFileCheckpoint) throws -> StableDiffusionArchitecture {
        let unetSource = try checkpoint.unet()
        let family = try ModelFamily(diffusersNamed: unetSource)
        if checkpoint.textEncoderLayout == .sdxl { return try inferredSDXL(from: checkpoint, unet: unetSource, family: family) }
        let isSD2 = checkpoint.textEncoderLayout == .openCLIP || family.generation == .sd2
        let inpainting = family.kind == .inpainting
        var architecture = isSD2 ? (inpainting ? sd2 : sd2Single) : (inpainting ? sd15Inpaint : sd15)
        architecture.unet = try inferUNet(unetSource, base: architecture.unet, generation: family.generation)
        architecture.vae = try inferVAE(checkpoint.vae(), base: architecture.vae)
        architecture.textEncoder = try inferTextEncoder(checkpoint.textEncoder(), base: architecture.textEncoder)
        return architecture
    }

    /// An SDXL refiner single file (OpenCLIP bigG alone, as `conditioner.embedders.0.model.`):
    /// the 1.0 refiner's settings with the sizes read from the shapes (the VAE's where the file has one).
    public static func inferredRefiner(from checkpoint: SingleFileCheckpoint) throws -> SDXLRefinerArchitecture {
        let unet = try checkpoint.unet()
        var architecture = SDXLRefinerArchitecture.sdxlRefiner
        architecture.unet = try inferUNet(unet, base: architecture.unet, generation: .sdxlRefiner)
        architecture.unet.projectionClassEmbeddingsInputDim = try shape(unet, "add_embedding.linear_1.weight", 1)
        if checkpoint.hasVAE { architecture.vae = try inferVAE(checkpoint.vae(), base: architecture.vae) }
        architecture.textEncoder2 = try inferProjectedTextEncoder(checkpoint.textEncoder2(), base: architecture.textEncoder2)
        return architecture
    }

    /// OpenCLIP bigG's sizes, its projection width from `text_projection`.
    private static func inferProjectedTextEncoder(_ source: any ParameterSource, base: CLIPTextConfig) throws -> CLIPTextConfig {
        var config = try inferTextEncoder(source, base: base)
        config.projectionDim = try shape(source, "text_projection.weight", 0)
        return config
    }

    /// An SDXL base or inpainting single file: SDXL 1.0's settings (Euler, heads of width 64,
    /// 256-wide time ids, the SDXL VAE) with the sizes read from the shapes; bigG's projection
    /// width from its `text_projection`.
    private static func inferredSDXL(from checkpoint: SingleFileCheckpoint, unet: any ParameterSource,
                                     family: ModelFamily) throws -> StableDiffusionArchitecture {
        var architecture = family.kind == .inpainting ? sdxlInpaint : sdxl
        architecture.unet = try inferUNet(unet, base: architecture.unet, generation: family.generation)
        architecture.unet.projectionClassEmbeddingsInputDim = try shape(unet, "add_embedding.linear_1.weight", 1)
        architecture.vae = try inferVAE(checkpoint.vae(), base: architecture.vae)
        architecture.textEncoder = try inferTextEncoder(checkpoint.textEncoder(), base: architecture.textEncoder)
        architecture.textEncoder2 = try inferProjectedTextEncoder(checkpoint.textEncoder2(),
                                                                  base: architecture.textEncoder2 ?? .openCLIPViTBigG14)
        return architecture
    }

    /// stabilityai/stable-diffusion-2-1 (768, v-prediction), which diffusers assumes for SD 2.x files.
    static let sd2Single: StableDiffusionArchitecture = {
        var architecture = StableDiffusionArchitecture.sd2
        architecture.unet.sampleSize = 96
        architecture.vae.sampleSize = 768
        architecture.schedulerConfigJSON = sd2VPredictionDDIMScheduler
        return architecture
    }()

    static let sd2VPredictionDDIMScheduler = """
    {
      "_class_name": "DDIMScheduler",
      "_diffusers_version": "0.8.0",
      "beta_end": 0.012,
      "beta_schedule": "scaled_linear",
      "beta_start": 0.00085,
      "clip_sample": false,
      "num_train_timesteps": 1000,
      "prediction_type": "v_prediction",
      "set_alpha_to_one": false,
      "skip_prk_steps": true,
      "steps_offset": 1,
      "trained_betas": null
    }
    """

    static func inferUNet(_ source: any ParameterSource, base: UNet2DConditionConfig,
                          generation: ModelFamily.Generation) throws -> UNet2DConditionConfig {
        let keys = Set(source.keys)
        var config = base
        let blocks = indices(after: "down_blocks.", in: keys).count
        config.blockOutChannels = try (0 ..< blocks).map { try shape(source, "down_blocks.\($0).resnets.0.conv1.weight", 0) }
        config.layersPerBlock = .shared(indices(after: "down_blocks.0.resnets.", in: keys).count)
        config.inChannels = try shape(source, "conv_in.weight", 1)
        config.outChannels = try shape(source, "conv_out.weight", 0)
        func hasAttention(_ block: String) -> Bool { keys.contains { $0.hasPrefix(block + ".attentions.0.") } }
        config.downBlockTypes = (0 ..< blocks).map { hasAttention("down_blocks.\($0)") ? "CrossAttnDownBlock2D" : "DownBlock2D" }
        config.upBlockTypes = (0 ..< blocks).map { hasAttention("up_blocks.\($0)") ? "CrossAttnUpBlock2D" : "UpBlock2D" }
        config.midBlockType = hasAttention("mid_block") ? "UNetMidBlock2DCrossAttn" : nil
        config.transformerLayersPerBlock = transformerDepths(keys, blocks: blocks)
        if let context = keys.sorted().first(where: { $0.hasSuffix("attn2.to_k.weight") }) {
            config.crossAttentionDim = .shared(try shape(source, context, 1))
        }
        if let projection = keys.sorted().first(where: { $0.hasSuffix(".proj_in.weight") }) {
            config.useLinearProjection = try source.shape(of: projection).count == 2
        }
        config.numClassEmbeds = nil
        config.attentionHeadDim = generation == .sd1 || (generation != .sd2 && !config.useLinearProjection)
            ? .shared(8) : .perBlock(config.blockOutChannels.map { max(1, $0 / 64) })
        return config
    }

    /// `transformer_layers_per_block`: each attention level's depth. diffusers gives the mid block
    /// the last level's, so where the last level has no attention (the SDXL refiner's) the mid
    /// block's depth stands there; other levels without attention take 1. One depth throughout
    /// is written as one value, as the reference configs write it.
    static func transformerDepths(_ keys: Set<String>, blocks: Int) -> UNet2DConditionConfig.PerBlock<Int> {
        func depth(_ block: String) -> Int? {
            let count = indices(after: "\(block).attentions.0.transformer_blocks.", in: keys).count
            return count > 0 ? count : nil
        }
        let attention = (0 ..< blocks).map { depth("down_blocks.\($0)") }
        let mid = depth("mid_block")
        var depths = attention.map { $0 ?? 1 }
        if let mid, blocks > 0, attention[blocks - 1] == nil { depths[blocks - 1] = mid }
        let distinct = Set(attention.compactMap { $0 } + (mid.map { [$0] } ?? []))
        return distinct.count <= 1 ? .shared(distinct.first ?? 1) : .perBlock(depths)
    }

    static func inferVAE(_ source: any ParameterSource, base: AutoencoderKLConfig) throws -> AutoencoderKLConfig {
        let keys = Set(source.keys)
        var config = base
        let blocks = indices(after: "encoder.down_blocks.", in: keys).count
        config.blockOutChannels = try (0 ..< blocks).map { try shape(source, "encoder.down_blocks.\($0).resnets.0.conv1.weight", 0) }
        config.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: blocks)
        config.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: blocks)
        config.layersPerBlock = indices(after: "encoder.down_blocks.0.resnets.", in: keys).count
        config.inChannels = try shape(source, "encoder.conv_in.weight", 1)
        config.outChannels = try shape(source, "decoder.conv_out.weight", 0)
        config.latentChannels = try shape(source, "decoder.conv_in.weight", 1)
        config.useQuantConv = keys.contains("quant_conv.weight")
        config.usePostQuantConv = keys.contains("post_quant_conv.weight")
        config.midBlockAddAttention = keys.contains { $0.hasPrefix("encoder.mid_block.attentions.0.") }
        return config
    }

    static func inferTextEncoder(_ source: any ParameterSource, base: CLIPTextConfig) throws -> CLIPTextConfig {
        var config = base
        let token = try Parameters(source).shape(of: "embeddings.token_embedding.weight")
        guard token.count == 2 else {
            throw ModelsError.unsupportedConfig(path: source.path, detail: "token embedding of shape \(token)")
        }
        config.vocabSize = token[0]
        config.hiddenSize = token[1]
        config.maxPositionEmbeddings = try shape(source, "embeddings.position_embedding.weight", 0)
        config.intermediateSize = try shape(source, "encoder.layers.0.mlp.fc1.weight", 0)
        config.numHiddenLayers = indices(after: "encoder.layers.", in: Set(source.keys)).count
        config.numAttentionHeads = max(1, config.hiddenSize / 64)
        return config
    }

    /// The distinct integers right after `prefix` in `keys` ("down_blocks." -> {0, 1, 2, 3}).
    static func indices(after prefix: String, in keys: Set<String>) -> Set<Int> {
        Set(keys.compactMap { key in
            key.hasPrefix(prefix) ? Int(key.dropFirst(prefix.count).prefix { $0.isNumber }) : nil
        })
    }

    static func shape(_ source: any ParameterSource, _ name: String, _ axis: Int) throws -> Int {
        let shape = try Parameters(source).shape(of: name)
        guard axis < shape.count else {
            throw ModelsError.shapeMismatch(path: source.path, tensor: name, expected: [], found: shape)
        }
        return shape[axis]
    }
}
