import Tensors

/// What SDXL's UNets and ControlNets are conditioned on besides the text states and the
/// timestep (diffusers' `added_cond_kwargs`).
public struct AddedConditions: Sendable {
    /// The second text encoder's projected, pooled output: [B, projection_dim].
    public var textEmbeds: Tensor
    /// Per image: original size, crop top-left and target size (base, 6 values) or original
    /// size, crop top-left and aesthetic score (refiner, 5 values): [B, n].
    public var timeIds: Tensor

    public init(textEmbeds: Tensor, timeIds: Tensor) {
        precondition(textEmbeds.rank == 2 && timeIds.rank == 2 && textEmbeds.shape[0] == timeIds.shape[0],
                     "added conditions \(textEmbeds.shape) and \(timeIds.shape) are not [B, D] and [B, n]")
        self.textEmbeds = textEmbeds
        self.timeIds = timeIds
    }

    /// The batch entries in `range`: the conditional half for ControlNets in guess mode.
    public func batchEntries(_ range: Range<Int>) -> AddedConditions {
        AddedConditions(textEmbeds: textEmbeds.sliced(axis: 0, range), timeIds: timeIds.sliced(axis: 0, range))
    }
}

/// diffusers' `addition_embed_type: "text_time"` (SDXL): each time id through the sinusoidal
/// `add_time_proj`, concatenated after the pooled text embeddings, through the
/// `add_embedding` MLP; the result is added to the time embedding.
public struct TextTimeEmbedding: Sendable {
    public let addTimeProjection: Timesteps
    public let addEmbedding: TimestepEmbedding
    public let inputWidth: Int

    /// `parameters`: the model's root (`add_embedding.*` lives there).
    public init(_ parameters: Parameters, timeIdWidth: Int, inputWidth: Int, timeEmbedDim: Int,
                flipSinToCos: Bool, freqShift: Float) throws {
        addTimeProjection = Timesteps(channels: timeIdWidth, flipSinToCos: flipSinToCos, downscaleFreqShift: freqShift)
        addEmbedding = try TimestepEmbedding(parameters.scoped("add_embedding"), inChannels: inputWidth,
                                             timeEmbedDim: timeEmbedDim)
        self.inputWidth = inputWidth
    }

    /// Built from a UNet config whose `unsupportedFeature` is nil; nil without text_time.
    init?(_ parameters: Parameters, config: UNet2DConditionConfig, timeEmbedDim: Int) throws {
        guard config.additionEmbedType == "text_time", let timeIdWidth = config.additionTimeEmbedDim,
              let inputWidth = config.projectionClassEmbeddingsInputDim else { return nil }
        try self.init(parameters, timeIdWidth: timeIdWidth, inputWidth: inputWidth, timeEmbedDim: timeEmbedDim,
                      flipSinToCos: config.flipSinToCos, freqShift: config.freqShift)
    }

    // conditions: textEmbeds [B, D], timeIds [B, n] with D + n * timeIdWidth == inputWidth -> [B, time_embed_dim]
    public func callAsFunction(_ conditions: AddedConditions) -> Tensor {
        let batch = conditions.textEmbeds.shape[0]
        let timeEmbeds = addTimeProjection(conditions.timeIds.scalars)
            .reshaped([batch, conditions.timeIds.shape[1] * addTimeProjection.channels])
        let input = Tensor.concatenate([conditions.textEmbeds, timeEmbeds], axis: 1)
        precondition(input.shape[1] == inputWidth,
                     "text_time input \(input.shape[1]) wide, add_embedding takes \(inputWidth)")
        return addEmbedding(input)
    }
}
