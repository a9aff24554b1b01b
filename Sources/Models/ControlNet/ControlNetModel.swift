import Foundation
import Tensors
import Weights

/// A ControlNet: a copy of the UNet's contracting path that reads a control image (edges,
/// depth...) and returns residuals for the UNet's skip connections and mid block.
///
/// This implementation matches: [diffusers ControlNetModel](https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/controlnets/controlnet.py)
/// for SD 1.x, 2.x and SDXL ControlNets (SDXL's text_time added embeddings), guess mode and
/// `global_pool_conditions` included.
///
/// Limitations: no attention masks, class embeddings, added embeddings other than text_time,
/// `encoder_hid_dim`, or a
/// `UNetMidBlock2D` mid block; see `ControlNetConfig.unsupportedFeature`.
public struct ControlNetModel: PretrainedModel, Sendable {
    public let config: ControlNetConfig
    public let timeProjection: Timesteps
    public let timeEmbedding: TimestepEmbedding
    /// SDXL's `add_time_proj` + `add_embedding`, when `addition_embed_type` is text_time.
    public let addEmbedding: TextTimeEmbedding?
    public let convIn: Conv2D
    public let conditioningEmbedding: ControlNetConditioningEmbedding
    public let downBlocks: [any UNetDownBlock]
    public let midBlock: UNetMidBlock2DCrossAttn
    /// One zero-initialised 1x1 convolution per UNet skip connection.
    public let controlNetDownBlocks: [Conv2D]
    public let controlNetMidBlock: Conv2D

    /// Builds the model from weights with diffusers key names; every tensor must be used.
    public init(config: ControlNetConfig, source: any ParameterSource) throws {
        try config.checkSupported(weightsPath: source.path)
        let parameters = Parameters(source)
        let layout = UNetLayout(config.unetConfig)
        let channels = config.blockOutChannels
        let timeEmbedDim = channels[0] * 4
        self.config = config
        timeProjection = Timesteps(channels: channels[0], flipSinToCos: config.flipSinToCos,
                                   downscaleFreqShift: config.freqShift)
        timeEmbedding = try TimestepEmbedding(parameters.scoped("time_embedding"), inChannels: channels[0],
                                              timeEmbedDim: timeEmbedDim)
        addEmbedding = try TextTimeEmbedding(parameters, config: config.unetConfig, timeEmbedDim: timeEmbedDim)
        convIn = try Conv2D(parameters.scoped("conv_in"), inChannels: config.inChannels, outChannels: channels[0],
                            kernelSize: 3, padding: 1)
        conditioningEmbedding = try ControlNetConditioningEmbedding(
            parameters.scoped("controlnet_cond_embedding"), conditioningChannels: config.conditioningChannels,
            blockOutChannels: config.conditioningEmbeddingOutChannels ?? [], embeddingChannels: channels[0])
        downBlocks = try layout.downBlocks(parameters, tembChannels: timeEmbedDim)
        guard let midBlock = try layout.midBlock(parameters, tembChannels: timeEmbedDim) else {
            throw ModelsError.unsupportedConfig(path: source.path, detail: "mid_block_type null")
        }
        self.midBlock = midBlock
        controlNetDownBlocks = try Self.skipChannels(config).enumerated().map { index, width in
            try Conv2D(parameters.scoped("controlnet_down_blocks.\(index)"), inChannels: width, outChannels: width,
                       kernelSize: 1)
        }
        let midChannels = channels[channels.count - 1]
        controlNetMidBlock = try Conv2D(parameters.scoped("controlnet_mid_block"), inChannels: midChannels,
                                        outChannels: midChannels, kernelSize: 1)
        try parameters.checkAllUsed()
    }

    /// The channels of each skip connection, in order: conv_in's, then per level one per resnet
    /// and one for the downsampler (all but the last level).
    static func skipChannels(_ config: ControlNetConfig) -> [Int] {
        let channels = config.blockOutChannels
        var widths = [channels[0]]
        for (level, width) in channels.enumerated() {
            widths += [Int](repeating: width, count: config.layersPerBlock + (level < channels.count - 1 ? 1 : 0))
        }
        return widths
    }

    /// The residuals for the UNet's skip connections and mid block, scaled by `conditioningScale`.
    ///
    /// `controlNetCond` is the control image in 0...1 at the pixel size (8x the latent). In guess
    /// mode the residuals are scaled from 0.1 (first skip) to 1 (mid block) on a log scale.
    /// `addedConditions` (SDXL's pooled text embeddings and time ids) are needed by a text_time
    /// ControlNet and taken by no other.
    // sample: [B, in, H, W], encoderHiddenStates: [B, L, D], controlNetCond: [B, cond, 8H, 8W]
    // -> downResiduals: one [B, C_i, H_i, W_i] per skip connection, midResidual: [B, C, H/2^k, W/2^k]
    // (each [B, C, 1, 1] with global_pool_conditions)
    public func callAsFunction(
        sample: Tensor, timestep: Float, encoderHiddenStates: Tensor, controlNetCond: Tensor,
        conditioningScale: Float = 1, guessMode: Bool = false, addedConditions: AddedConditions? = nil
    ) -> (downResiduals: [Tensor], midResidual: Tensor) {
        checkInputs(sample: sample, encoderHiddenStates: encoderHiddenStates, controlNetCond: controlNetCond,
                    addedConditions: addedConditions)
        let batch = sample.shape[0]
        var temb = timeEmbedding(timeProjection([Float](repeating: timestep, count: batch)))
        if let addEmbedding, let addedConditions { temb += addEmbedding(addedConditions) }
        let condition = config.controlnetConditioningChannelOrder == "bgr" ? flipChannels(controlNetCond)
                                                                          : controlNetCond
        var hidden = convIn(sample)
        hidden += conditioningEmbedding(condition)
        var skips = [hidden]
        for block in downBlocks {
            let (output, blockSkips) = block(hidden, temb: temb, encoderHiddenStates: encoderHiddenStates)
            hidden = output
            skips += blockSkips
        }
        hidden = midBlock(hidden, temb: temb, encoderHiddenStates: encoderHiddenStates)
        var down = zip(skips, controlNetDownBlocks).map { skip, conv in conv(skip) }
        var mid = controlNetMidBlock(hidden)
        let scales = residualScales(count: down.count, conditioningScale: conditioningScale, guessMode: guessMode)
        down = zip(down, scales).map { $0 * $1 }
        mid = mid * (scales.last ?? conditioningScale)
        if config.globalPoolConditions {
            down = down.map(spatialMean)
            mid = spatialMean(mid)
        }
        return (down, mid)
    }

    /// diffusers' `torch.logspace(-1, 0, n + 1) * conditioning_scale` in guess mode (the last
    /// one for the mid block), the plain scale otherwise; guess mode is off for pooled models.
    private func residualScales(count: Int, conditioningScale: Float, guessMode: Bool) -> [Float] {
        guard guessMode, !config.globalPoolConditions else {
            return [Float](repeating: conditioningScale, count: count + 1)
        }
        return (0 ... count).map { index in
            Float(pow(10, -1 + Double(index) / Double(count))) * conditioningScale
        }
    }

    // x: [B, C, H, W] -> [B, C, H, W] with the channels in reverse order
    private func flipChannels(_ x: Tensor) -> Tensor {
        let (batch, channels) = (x.shape[0], x.shape[1])
        let plane = x.count / max(1, batch * channels)
        var scalars = [Float]()
        scalars.reserveCapacity(x.count)
        for image in 0 ..< batch {
            for channel in (0 ..< channels).reversed() {
                let start = (image * channels + channel) * plane
                scalars += x.scalars[start ..< start + plane]
            }
        }
        return Tensor(shape: x.shape, scalars: scalars)
    }

    // x: [B, C, H, W] -> [B, C, 1, 1]
    private func spatialMean(_ x: Tensor) -> Tensor {
        let plane = x.shape[2] * x.shape[3]
        let means = stride(from: 0, to: x.count, by: plane).map { start in
            x.scalars[start ..< start + plane].reduce(0, +) / Float(plane)
        }
        return Tensor(shape: [x.shape[0], x.shape[1], 1, 1], scalars: means)
    }

    /// Wrong shapes here are the calling pipeline's bug, as with the tensor ops.
    private func checkInputs(sample: Tensor, encoderHiddenStates: Tensor, controlNetCond: Tensor,
                             addedConditions: AddedConditions?) {
        precondition((addEmbedding == nil) == (addedConditions == nil),
                     addEmbedding == nil ? "ControlNet takes no added conditions" : "ControlNet needs text_embeds and time_ids")
        precondition(addedConditions.map { $0.textEmbeds.shape[0] == sample.shape[0] } ?? true,
                     "ControlNet added conditions do not match batch \(sample.shape[0])")
        precondition(sample.rank == 4 && sample.shape[1] == config.inChannels,
                     "ControlNet sample \(sample.shape) is not [B, \(config.inChannels), H, W]")
        precondition(encoderHiddenStates.rank == 3 && encoderHiddenStates.shape[0] == sample.shape[0],
                     "ControlNet encoder hidden states \(encoderHiddenStates.shape) do not match batch \(sample.shape[0])")
        let factor = conditioningEmbedding.downscaleFactor
        precondition(controlNetCond.shape == [sample.shape[0], config.conditioningChannels,
                                              sample.shape[2] * factor, sample.shape[3] * factor],
                     "ControlNet control image \(controlNetCond.shape) does not match sample \(sample.shape)")
    }
}

/// The small network that brings the control image down to the latent size: conv_in, then
/// pairs of convolutions (the second with stride 2), each followed by SiLU, and a
/// zero-initialised conv_out to the UNet's first block width.
public struct ControlNetConditioningEmbedding: Sendable {
    public let convIn: Conv2D
    public let blocks: [Conv2D]
    public let convOut: Conv2D

    public init(_ parameters: Parameters, conditioningChannels: Int, blockOutChannels: [Int],
                embeddingChannels: Int) throws {
        let first = blockOutChannels.first ?? embeddingChannels
        convIn = try Conv2D(parameters.scoped("conv_in"), inChannels: conditioningChannels, outChannels: first,
                            kernelSize: 3, padding: 1)
        blocks = try zip(blockOutChannels, blockOutChannels.dropFirst()).enumerated().flatMap { index, pair in
            let (input, output) = pair
            return [
                try Conv2D(parameters.scoped("blocks.\(2 * index)"), inChannels: input, outChannels: input,
                           kernelSize: 3, padding: 1),
                try Conv2D(parameters.scoped("blocks.\(2 * index + 1)"), inChannels: input, outChannels: output,
                           kernelSize: 3, stride: 2, padding: 1),
            ]
        }
        convOut = try Conv2D(parameters.scoped("conv_out"), inChannels: blockOutChannels.last ?? first,
                             outChannels: embeddingChannels, kernelSize: 3, padding: 1)
    }

    /// How much smaller the embedding is than the control image (8 for SD ControlNets).
    public var downscaleFactor: Int { 1 << (blocks.count / 2) }

    // conditioning: [B, cond, H, W] -> [B, embeddingChannels, H / factor, W / factor]
    public func callAsFunction(_ conditioning: Tensor) -> Tensor {
        var embedding = silu(convIn(conditioning))
        for block in blocks { embedding = silu(block(embedding)) }
        return convOut(embedding)
    }
}
