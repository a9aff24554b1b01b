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

    /// diffusers builds these with `attention_head_dim = channels // num_attention_heads`.
    func transformer(_ parameters: Parameters, channels: Int) throws -> Transformer2DModel {
        try Transformer2DModel(parameters, heads: heads, headDim: channels / heads, inChannels: channels,
                               layers: transformerLayers, crossAttentionDim: crossAttentionDim,
                               normGroups: resnetGroups, useLinearProjection: useLinearProjection,
                               onlyCrossAttention: onlyCrossAttention)
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
        resnets = try (0..<layers).map { index in
            try settings.resnet(parameters.scoped("resnets.\(index)"),
                                inChannels: index == 0 ? inChannels : outChannels, outChannels: outChannels)
        }
        downsampler = addDownsample
            ? try Downsample2D(parameters.scoped("downsamplers.0"), channels: outChannels, padding: downsamplePadding)
            : nil
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor]) {
        var hidden = x
        var skips: [Tensor] = []
        for resnet in resnets {
            hidden = resnet(hidden, temb: temb)
            skips.append(hidden)
        }
        if let downsampler {
            hidden = downsampler(hidden)
            skips.append(hidden)
        }
        return (hidden, skips)
    }
}

/// diffusers' `CrossAttnDownBlock2D`: (resnet, transformer) pairs, then an optional downsampler.
public struct CrossAttnDownBlock2D: UNetDownBlock {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let downsampler: Downsample2D?

    public init(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int, addDownsample: Bool,
                downsamplePadding: Int, settings: UNetBlockSettings) throws {
        resnets = try (0..<layers).map { index in
            try settings.resnet(parameters.scoped("resnets.\(index)"),
                                inChannels: index == 0 ? inChannels : outChannels, outChannels: outChannels)
        }
        attentions = try (0..<layers).map { index in
            try settings.transformer(parameters.scoped("attentions.\(index)"), channels: outChannels)
        }
        downsampler = addDownsample
            ? try Downsample2D(parameters.scoped("downsamplers.0"), channels: outChannels, padding: downsamplePadding)
            : nil
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor]) {
        var hidden = x
        var skips: [Tensor] = []
        for (resnet, attention) in zip(resnets, attentions) {
            hidden = attention(resnet(hidden, temb: temb), encoderHiddenStates: encoderHiddenStates)
            skips.append(hidden)
        }
        if let downsampler {
            hidden = downsampler(hidden)
            skips.append(hidden)
        }
        return (hidden, skips)
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
        attentions = try (0..<layers).map { index in
            try settings.transformer(parameters.scoped("attentions.\(index)"), channels: channels)
        }
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

/// The input widths of an up block's resnets: the first takes the previous block's output,
/// the others this block's; the skip joining the last comes from the block one level down.
private func upResnetChannels(layers: Int, inChannels: Int, outChannels: Int,
                              previousOutputChannels: Int) -> [Int] {
    (0..<layers).map { index in
        let skipChannels = index == layers - 1 ? inChannels : outChannels
        let hiddenChannels = index == 0 ? previousOutputChannels : outChannels
        return hiddenChannels + skipChannels
    }
}

/// diffusers' `UpBlock2D`: resnets on (hidden ++ skip), then an optional upsampler.
public struct UpBlock2D: UNetUpBlock {
    public let resnets: [ResnetBlock2D]
    public let upsampler: Upsample2D?

    public init(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int,
                previousOutputChannels: Int, addUpsample: Bool, settings: UNetBlockSettings) throws {
        let widths = upResnetChannels(layers: layers, inChannels: inChannels, outChannels: outChannels,
                                      previousOutputChannels: previousOutputChannels)
        resnets = try widths.enumerated().map { index, width in
            try settings.resnet(parameters.scoped("resnets.\(index)"), inChannels: width, outChannels: outChannels)
        }
        upsampler = addUpsample ? try Upsample2D(parameters.scoped("upsamplers.0"), channels: outChannels) : nil
    }

    public var resnetCount: Int { resnets.count }

    public func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                               upsampleSize: (height: Int, width: Int)?) -> Tensor {
        var hidden = x
        for (resnet, skip) in zip(resnets, skips.reversed()) {
            hidden = resnet(Tensor.concatenate([hidden, skip], axis: 1), temb: temb)
        }
        return upsampler.map { $0(hidden, outputSize: upsampleSize) } ?? hidden
    }
}

/// diffusers' `CrossAttnUpBlock2D`: (resnet on hidden ++ skip, transformer) pairs, then an
/// optional upsampler.
public struct CrossAttnUpBlock2D: UNetUpBlock {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let upsampler: Upsample2D?

    public init(_ parameters: Parameters, layers: Int, inChannels: Int, outChannels: Int,
                previousOutputChannels: Int, addUpsample: Bool, settings: UNetBlockSettings) throws {
        let widths = upResnetChannels(layers: layers, inChannels: inChannels, outChannels: outChannels,
                                      previousOutputChannels: previousOutputChannels)
        resnets = try widths.enumerated().map { index, width in
            try settings.resnet(parameters.scoped("resnets.\(index)"), inChannels: width, outChannels: outChannels)
        }
        attentions = try (0..<layers).map { index in
            try settings.transformer(parameters.scoped("attentions.\(index)"), channels: outChannels)
        }
        upsampler = addUpsample ? try Upsample2D(parameters.scoped("upsamplers.0"), channels: outChannels) : nil
    }

    public var resnetCount: Int { resnets.count }

    public func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                               upsampleSize: (height: Int, width: Int)?) -> Tensor {
        var hidden = x
        for ((resnet, attention), skip) in zip(zip(resnets, attentions), skips.reversed()) {
            hidden = resnet(Tensor.concatenate([hidden, skip], axis: 1), temb: temb)
            hidden = attention(hidden, encoderHiddenStates: encoderHiddenStates)
        }
        return upsampler.map { $0(hidden, outputSize: upsampleSize) } ?? hidden
    }
}
