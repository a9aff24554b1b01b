import Tensors
import Weights

/// The Stable Diffusion denoiser.
///
/// This implementation matches: [diffusers UNet2DConditionModel](https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/unets/unet_2d_condition.py)
/// for SD 1.x, 2.x and SDXL checkpoints (including 9-channel inpainting UNets, the x4
/// upscaler's class-embedding table, SDXL's text_time added embeddings and the guidance
/// embedding of LCM-distilled SD 1.x / 2.x UNets, `timestep_cond`), with ControlNet residuals
/// added where diffusers adds them.
///
/// Limitations: no attention masks, T2I-Adapter residuals, added embeddings other than
/// text_time, or class embedding types other than the plain table; see
/// `UNet2DConditionConfig.unsupportedFeature`.
public struct UNet2DConditionModel: PretrainedModel, Sendable {
    public let config: UNet2DConditionConfig
    public let timeProjection: Timesteps
    public let timeEmbedding: TimestepEmbedding
    /// `class_embedding.weight` [num_class_embeds, time_embed_dim], when the config has one.
    public let classEmbedding: Tensor?
    /// SDXL's `add_time_proj` + `add_embedding`, when `addition_embed_type` is text_time.
    public let addEmbedding: TextTimeEmbedding?
    public let convIn: Conv2D
    public let downBlocks: [any UNetDownBlock]
    public let midBlock: UNetMidBlock2DCrossAttn?
    public let upBlocks: [any UNetUpBlock]
    public let convNormOut: GroupNorm
    public let convOut: Conv2D

    /// Builds the model from weights with diffusers key names; every tensor must be used.
    public init(config: UNet2DConditionConfig, source: any ParameterSource) throws {
        try config.checkSupported(weightsPath: source.path)
        let parameters = Parameters(source)
        let layout = UNetLayout(config)
        let channels = config.blockOutChannels
        let timeEmbedDim = config.timeEmbeddingDim ?? channels[0] * 4
        self.config = config
        timeProjection = Timesteps(channels: channels[0], flipSinToCos: config.flipSinToCos,
                                   downscaleFreqShift: config.freqShift)
        timeEmbedding = try TimestepEmbedding(parameters.scoped("time_embedding"), inChannels: channels[0],
                                              timeEmbedDim: timeEmbedDim, conditionChannels: config.timeCondProjDim)
        classEmbedding = try config.numClassEmbeds.map {
            try parameters.tensor("class_embedding.weight", shape: [$0, timeEmbedDim])
        }
        addEmbedding = try TextTimeEmbedding(parameters, config: config, timeEmbedDim: timeEmbedDim)
        convIn = try Conv2D(parameters.scoped("conv_in"), inChannels: config.inChannels, outChannels: channels[0],
                            kernelSize: config.convInKernel, padding: (config.convInKernel - 1) / 2)
        downBlocks = try layout.downBlocks(parameters, tembChannels: timeEmbedDim)
        midBlock = try layout.midBlock(parameters, tembChannels: timeEmbedDim)
        upBlocks = try layout.upBlocks(parameters, tembChannels: timeEmbedDim)
        convNormOut = try GroupNorm(parameters.scoped("conv_norm_out"), groups: layout.groups, channels: channels[0],
                                    eps: config.normEps)
        convOut = try Conv2D(parameters.scoped("conv_out"), inChannels: channels[0],
                             outChannels: config.outChannels, kernelSize: config.convOutKernel,
                             padding: (config.convOutKernel - 1) / 2)
        try parameters.checkAllUsed()
    }

    /// The predicted noise (or v) for `sample` at `timestep`.
    ///
    /// `classLabels` index the class-embedding table (the x4 upscaler's noise level), one per
    /// image. `addedConditions` are SDXL's pooled text embeddings and time ids, which a text_time
    /// UNet needs and no other takes. `downBlockAdditionalResiduals` (one per skip connection) and
    /// `midBlockAdditionalResidual` are a ControlNet's outputs; both or neither must be given.
    /// `timestepCond` (`[B, time_cond_proj_dim]`, the pipelines' guidance-scale embedding) is for
    /// a UNet with a guidance embedding, which also runs without one, as diffusers' does.
    // sample: [B, in, H, W], encoderHiddenStates: [B, L, cross_attention_dim] -> [B, out, H, W]
    public func callAsFunction(
        sample: Tensor, timestep: Float, encoderHiddenStates: Tensor, timestepCond: Tensor? = nil,
        classLabels: [Int]? = nil, addedConditions: AddedConditions? = nil,
        downBlockAdditionalResiduals: [Tensor]? = nil, midBlockAdditionalResidual: Tensor? = nil
    ) -> Tensor {
        checkInputs(sample: sample, encoderHiddenStates: encoderHiddenStates, timestepCond: timestepCond,
                    classLabels: classLabels, addedConditions: addedConditions,
                    downResiduals: downBlockAdditionalResiduals, midResidual: midBlockAdditionalResidual)
        let batch = sample.shape[0]
        // 1. time (and class) embedding
        var temb = timeEmbedding(timeProjection([Float](repeating: timestep, count: batch)), condition: timestepCond)
        if let table = classEmbedding, let classLabels { temb += embeddingRows(table, classLabels) }
        if let addEmbedding, let addedConditions { temb += addEmbedding(addedConditions) }
        // 2. pre-process
        let input = config.centerInputSample ? 2 * sample - 1 : sample
        var hidden = convIn(input)
        // 3. down
        var skips = [hidden]
        for block in downBlocks {
            let (output, blockSkips) = block(hidden, temb: temb, encoderHiddenStates: encoderHiddenStates)
            hidden = output
            skips += blockSkips
        }
        if let downBlockAdditionalResiduals {
            skips = zip(skips, downBlockAdditionalResiduals).map { $0 + $1 }
        }
        // 4. mid
        if let midBlock { hidden = midBlock(hidden, temb: temb, encoderHiddenStates: encoderHiddenStates) }
        if let midBlockAdditionalResidual { hidden += midBlockAdditionalResidual }
        // 5. up
        hidden = upPath(hidden, skips: skips, temb: temb, encoderHiddenStates: encoderHiddenStates,
                        forceUpsampleSize: needsUpsampleSizes(sample))
        // 6. post-process
        return convOut(hidden, preparedBy: convNormOut.affine(for: hidden, fusedSiLU: true))
    }

    private func upPath(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                        forceUpsampleSize: Bool) -> Tensor {
        var hidden = x
        var remaining = skips
        for (index, block) in upBlocks.enumerated() {
            let blockSkips = Array(remaining.suffix(block.resnetCount))
            remaining.removeLast(block.resnetCount)
            var upsampleSize: (height: Int, width: Int)?
            if forceUpsampleSize, index < upBlocks.count - 1, let next = remaining.last {
                upsampleSize = (next.shape[2], next.shape[3])
            }
            hidden = block(hidden, skips: blockSkips, temb: temb, encoderHiddenStates: encoderHiddenStates,
                           upsampleSize: upsampleSize)
        }
        return hidden
    }

    /// diffusers passes explicit upsample sizes when H or W is not a multiple of 2^upsamplers.
    private func needsUpsampleSizes(_ sample: Tensor) -> Bool {
        let factor = 1 << (upBlocks.count - 1)
        return sample.shape[2] % factor != 0 || sample.shape[3] % factor != 0
    }

    // table: [classes, D], labels: B -> [B, D]
    private func embeddingRows(_ table: Tensor, _ labels: [Int]) -> Tensor {
        let width = table.shape[1]
        return Tensor(shape: [labels.count, width], scalars: labels.flatMap { label in
            table.scalars[label * width ..< (label + 1) * width]
        })
    }

    /// Wrong shapes here are the calling pipeline's bug, as with the tensor ops.
    private func checkInputs(sample: Tensor, encoderHiddenStates: Tensor, timestepCond: Tensor?, classLabels: [Int]?,
                             addedConditions: AddedConditions?, downResiduals: [Tensor]?, midResidual: Tensor?) {
        precondition(sample.rank == 4 && sample.shape[1] == config.inChannels,
                     "UNet sample \(sample.shape) is not [B, \(config.inChannels), H, W]")
        precondition(encoderHiddenStates.rank == 3 && encoderHiddenStates.shape[0] == sample.shape[0],
                     "UNet encoder hidden states \(encoderHiddenStates.shape) do not match batch \(sample.shape[0])")
        if let timestepCond {
            precondition(timestepCond.shape == [sample.shape[0], config.timeCondProjDim ?? 0],
                         "UNet timestep_cond \(timestepCond.shape) is not [B, time_cond_proj_dim \(config.timeCondProjDim ?? 0)]")
        }
        if let table = classEmbedding {
            precondition(classLabels?.count == sample.shape[0]
                         && (classLabels ?? []).allSatisfy { (0..<table.shape[0]).contains($0) },
                         "UNet needs one class label in 0..<\(table.shape[0]) per image")
        }
        precondition((addEmbedding == nil) == (addedConditions == nil),
                     addEmbedding == nil ? "UNet takes no added conditions" : "UNet needs text_embeds and time_ids")
        precondition(addedConditions.map { $0.textEmbeds.shape[0] == sample.shape[0] } ?? true,
                     "UNet added conditions do not match batch \(sample.shape[0])")
        precondition((downResiduals == nil) == (midResidual == nil),
                     "ControlNet residuals need both the down and the mid residuals")
        precondition(downResiduals.map { $0.count == skipCount } ?? true,
                     "UNet needs \(skipCount) ControlNet down residuals")
    }

    /// conv_in's output plus every skip connection the down blocks leave.
    private var skipCount: Int { upBlocks.reduce(0) { $0 + $1.resnetCount } }
}

/// The per-block settings diffusers derives from the config (num_attention_heads falling back
/// to attention_head_dim, lists reversed for the up path).
struct UNetLayout {
    let config: UNet2DConditionConfig
    let channels: [Int]
    let layers: [Int]
    let heads: [Int]
    let crossAttentionDims: [Int]
    let transformerLayers: [Int]
    let onlyCrossAttention: [Bool]
    let groups: Int

    init(_ config: UNet2DConditionConfig) {
        // Validated by `unsupportedFeature`, so the per-block lists all have the right length.
        let count = config.blockOutChannels.count
        self.config = config
        channels = config.blockOutChannels
        layers = config.layersPerBlock.values(count: count) ?? []
        heads = (config.numAttentionHeads ?? config.attentionHeadDim).values(count: count) ?? []
        crossAttentionDims = config.crossAttentionDim.values(count: count) ?? []
        transformerLayers = config.transformerLayersPerBlock.values(count: count) ?? []
        onlyCrossAttention = config.onlyCrossAttention.values(count: count) ?? []
        groups = config.normNumGroups ?? 32
    }

    /// The mid block's transformers never use `only_cross_attention` (diffusers does not pass it).
    func settings(tembChannels: Int, block: Int, mid: Bool = false) -> UNetBlockSettings {
        UNetBlockSettings(tembChannels: tembChannels, resnetEps: config.normEps, resnetGroups: groups,
                          timeEmbeddingNorm: config.resnetTimeScaleShift,
                          crossAttentionDim: crossAttentionDims[block], heads: heads[block],
                          transformerLayers: transformerLayers[block],
                          useLinearProjection: config.useLinearProjection,
                          onlyCrossAttention: !mid && onlyCrossAttention[block])
    }

    func downBlocks(_ parameters: Parameters, tembChannels: Int) throws -> [any UNetDownBlock] {
        try config.downBlockTypes.enumerated().map { index, type -> any UNetDownBlock in
            let scoped = parameters.scoped("down_blocks.\(index)")
            let settings = settings(tembChannels: tembChannels, block: index)
            let inChannels = channels[max(0, index - 1)]
            let addDownsample = index < channels.count - 1
            if type == "CrossAttnDownBlock2D" {
                return try CrossAttnDownBlock2D(scoped, layers: layers[index], inChannels: inChannels,
                                                outChannels: channels[index], addDownsample: addDownsample,
                                                downsamplePadding: config.downsamplePadding, settings: settings)
            }
            return try DownBlock2D(scoped, layers: layers[index], inChannels: inChannels,
                                   outChannels: channels[index], addDownsample: addDownsample,
                                   downsamplePadding: config.downsamplePadding, settings: settings)
        }
    }

    func midBlock(_ parameters: Parameters, tembChannels: Int) throws -> UNetMidBlock2DCrossAttn? {
        guard config.midBlockType != nil, let last = channels.indices.last else { return nil }
        return try UNetMidBlock2DCrossAttn(parameters.scoped("mid_block"), channels: channels[last],
                                           outputScaleFactor: config.midBlockScaleFactor,
                                           settings: settings(tembChannels: tembChannels, block: last, mid: true))
    }

    /// Up block i mirrors down block n-1-i: its heads, cross-attention width and layer counts
    /// come from the reversed lists, with one resnet more than the down block.
    func upBlocks(_ parameters: Parameters, tembChannels: Int) throws -> [any UNetUpBlock] {
        let count = channels.count
        let reversedChannels = Array(channels.reversed())
        return try config.upBlockTypes.enumerated().map { index, type -> any UNetUpBlock in
            let scoped = parameters.scoped("up_blocks.\(index)")
            let mirrored = count - 1 - index
            let settings = settings(tembChannels: tembChannels, block: mirrored)
            let outChannels = reversedChannels[index]
            let previous = reversedChannels[max(0, index - 1)]
            let inChannels = reversedChannels[min(index + 1, count - 1)]
            let addUpsample = index < count - 1
            if type == "CrossAttnUpBlock2D" {
                return try CrossAttnUpBlock2D(scoped, layers: layers[mirrored] + 1, inChannels: inChannels,
                                              outChannels: outChannels, previousOutputChannels: previous,
                                              addUpsample: addUpsample, settings: settings)
            }
            return try UpBlock2D(scoped, layers: layers[mirrored] + 1, inChannels: inChannels,
                                 outChannels: outChannels, previousOutputChannels: previous,
                                 addUpsample: addUpsample, settings: settings)
        }
    }
}
