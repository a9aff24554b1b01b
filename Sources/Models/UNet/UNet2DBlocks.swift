import Tensors

/// What every ResNet and transformer of one UNet block shares (diffusers passes these to
/// `get_down_block` / `get_up_block` / `get_mid_block` one by one).
public struct UNetBlockSettings: Sendable {
    public var tembChannels: Int
    public var resnetEps: Float
    public var resnetGroups: Int
    public var timeEmbeddingNorm: ResnetBlock2D.TimeEmbeddingNorm
    public var crossAttentionDim: Int
    public var heads: Int
    public var transformerLayers: Int
    public var useLinearProjection: Bool
    /// The transformers' attn1 attends to the encoder hidden states too.
    public var onlyCrossAttention: Bool

    func resnet(_ parameters: Parameters, inChannels: Int, outChannels: Int,
                outputScaleFactor: Float = 1) throws -> ResnetBlock2D {
        try ResnetBlock2D(parameters, inChannels: inChannels, outChannels: outChannels, tembChannels: tembChannels,
                          groups: resnetGroups, eps: resnetEps, timeEmbeddingNorm: timeEmbeddingNorm,
                          outputScaleFactor: outputScaleFactor)
    }

    /// A down block's resnets: the first reads the previous block's width, the others `outChannels`.
    func downResnets(_ parameters: Parameters, layers: Int, inChannels: Int,
                     outChannels: Int) throws -> [ResnetBlock2D] {
        try (0..<layers).map { index in
            try resnet(parameters.scoped("resnets.\(index)"), inChannels: index == 0 ? inChannels : outChannels,
                       outChannels: outChannels)
        }
    }

    /// An up block's resnets, each reading the hidden state joined with one skip: the first
    /// hidden state is the previous block's output, the last skip comes from one level down.
    func upResnets(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int,
                   previousOutputChannels: Int) throws -> [ResnetBlock2D] {
        try (0..<layers).map { index in
            let skipChannels = index == layers - 1 ? inChannels : outChannels
            let hiddenChannels = index == 0 ? previousOutputChannels : outChannels
            return try resnet(parameters.scoped("resnets.\(index)"), inChannels: hiddenChannels + skipChannels,
                              outChannels: outChannels)
        }
    }

    /// A cross-attention block's transformers, one after each of its resnets. diffusers builds
    /// them with `attention_head_dim = channels // num_attention_heads`.
    func transformers(_ parameters: Parameters, layers: Int, channels: Int) throws -> [Transformer2DModel] {
        try (0..<layers).map { index in
            try Transformer2DModel(parameters.scoped("attentions.\(index)"), heads: heads, headDim: channels / heads,
                                   inChannels: channels, layers: transformerLayers,
                                   crossAttentionDim: crossAttentionDim, normGroups: resnetGroups,
                                   useLinearProjection: useLinearProjection, onlyCrossAttention: onlyCrossAttention)
        }
    }
}

/// A block of the UNet's contracting path.
public protocol UNetDownBlock: Sendable {
    /// The block's output and the skip connections it leaves for the up path (one per
    /// resnet, plus the downsampled output).
    // x: [N, in, H, W], temb: [N, temb], encoderHiddenStates: [N, L, D]
    //   -> ([N, out, H', W'], skips)
    func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor])
}

/// A block of the UNet's expanding path.
public protocol UNetUpBlock: Sendable {
    /// How many skip connections the block consumes (its resnet count).
    var resnetCount: Int { get }
    /// `skips` are taken from the end (the most recent first); `upsampleSize` forces the
    /// upsampler's output size.
    // x: [N, prev, H, W], skips: resnetCount tensors -> [N, out, 2H, 2W] (H, W without upsampler)
    func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                        upsampleSize: (height: Int, width: Int)?) -> Tensor
}

/// diffusers' `DownBlock2D`: resnets, then an optional stride-2 downsampler.
public struct DownBlock2D: UNetDownBlock {
    public let resnets: [ResnetBlock2D]
    public let downsampler: Downsample2D?

    public init(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int, addDownsample: Bool,
                downsamplePadding: Int, settings: UNetBlockSettings) throws {
        resnets = try settings.downResnets(parameters, layers: layers, inChannels: inChannels, outChannels: outChannels)
        downsampler = try Downsample2D.ofBlock(parameters, added: addDownsample, channels: outChannels,
                                               padding: downsamplePadding)
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor]) {
        pass(x) { index, hidden in resnets[index](hidden, temb: temb) }
    }

    /// The block's pass with `layer(index, hidden)` as its layers (a resnet, or a resnet and the
    /// transformer after it): each layer leaves its output as a skip, and so does the downsampler.
    func pass(_ x: Tensor, layer: (Int, Tensor) -> Tensor) -> (Tensor, [Tensor]) {
        var hidden = x
        var skips: [Tensor] = []
        for index in resnets.indices {
            hidden = layer(index, hidden)
            skips.append(hidden)
        }
        if let downsampler {
            hidden = downsampler(hidden)
            skips.append(hidden)
        }
        return (hidden, skips)
    }
}

/// diffusers' `CrossAttnDownBlock2D`: a `DownBlock2D` with a transformer after each resnet.
public struct CrossAttnDownBlock2D: UNetDownBlock {
    /// The resnets and the downsampler: this block without its transformers (diffusers names
    /// their weights alike).
    public let plain: DownBlock2D
    public let attentions: [Transformer2DModel]

    public init(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int, addDownsample: Bool,
                downsamplePadding: Int, settings: UNetBlockSettings) throws {
        plain = try DownBlock2D(parameters, layers: layers, inChannels: inChannels, outChannels: outChannels,
                                addDownsample: addDownsample, downsamplePadding: downsamplePadding, settings: settings)
        attentions = try settings.transformers(parameters, layers: layers, channels: outChannels)
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor]) {
        plain.pass(x) { index, hidden in
            attentions[index](plain.resnets[index](hidden, temb: temb), encoderHiddenStates: encoderHiddenStates)
        }
    }
}

/// diffusers' `UNetMidBlock2DCrossAttn`: a resnet, then (transformer, resnet) pairs.
public struct UNetMidBlock2DCrossAttn: Sendable {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]

    public init(_ parameters: Parameters, channels: Int, layers: Int = 1, outputScaleFactor: Float,
                settings: UNetBlockSettings) throws {
        resnets = try (0...layers).map { index in
            try settings.resnet(parameters.scoped("resnets.\(index)"), inChannels: channels, outChannels: channels,
                                outputScaleFactor: outputScaleFactor)
        }
        attentions = try settings.transformers(parameters, layers: layers, channels: channels)
    }

    // x: [N, C, H, W] -> [N, C, H, W]
    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        var hidden = resnets[0](x, temb: temb)
        for (attention, resnet) in zip(attentions, resnets.dropFirst()) {
            hidden = resnet(attention(hidden, encoderHiddenStates: encoderHiddenStates), temb: temb)
        }
        return hidden
    }
}

/// diffusers' `UpBlock2D`: resnets on (hidden ++ skip), then an optional upsampler.
public struct UpBlock2D: UNetUpBlock {
    public let resnets: [ResnetBlock2D]
    public let upsampler: Upsample2D?

    public init(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int,
                previousOutputChannels: Int, addUpsample: Bool, settings: UNetBlockSettings) throws {
        resnets = try settings.upResnets(parameters, layers: layers, inChannels: inChannels, outChannels: outChannels,
                                         previousOutputChannels: previousOutputChannels)
        upsampler = try Upsample2D.ofBlock(parameters, added: addUpsample, channels: outChannels)
    }

    public var resnetCount: Int { resnets.count }

    public func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                               upsampleSize: (height: Int, width: Int)?) -> Tensor {
        pass(x, skips: skips, upsampleSize: upsampleSize) { index, hidden in resnets[index](hidden, temb: temb) }
    }

    /// The block's pass with `layer(index, hidden)` as its layers: each reads the hidden state
    /// joined with the next skip (the most recent first), then the upsampler runs.
    func pass(_ x: Tensor, skips: [Tensor], upsampleSize: (height: Int, width: Int)?,
              layer: (Int, Tensor) -> Tensor) -> Tensor {
        var hidden = x
        for (index, skip) in zip(resnets.indices, skips.reversed()) {
            hidden = layer(index, Tensor.concatenate([hidden, skip], axis: 1))
        }
        return upsampler.map { $0(hidden, outputSize: upsampleSize) } ?? hidden
    }
}

/// diffusers' `CrossAttnUpBlock2D`: an `UpBlock2D` with a transformer after each resnet.
public struct CrossAttnUpBlock2D: UNetUpBlock {
    /// The resnets and the upsampler: this block without its transformers (diffusers names
    /// their weights alike).
    public let plain: UpBlock2D
    public let attentions: [Transformer2DModel]

    public init(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int,
                previousOutputChannels: Int, addUpsample: Bool, settings: UNetBlockSettings) throws {
        plain = try UpBlock2D(parameters, layers: layers, inChannels: inChannels, outChannels: outChannels,
                              previousOutputChannels: previousOutputChannels, addUpsample: addUpsample, settings: settings)
        attentions = try settings.transformers(parameters, layers: layers, channels: outChannels)
    }

    public var resnetCount: Int { plain.resnetCount }

    public func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                               upsampleSize: (height: Int, width: Int)?) -> Tensor {
        plain.pass(x, skips: skips, upsampleSize: upsampleSize) { index, hidden in
            attentions[index](plain.resnets[index](hidden, temb: temb), encoderHiddenStates: encoderHiddenStates)
        }
    }
}
