import Tensors

/// diffusers' `Transformer2DModel` (models/transformers/transformer_2d.py) on continuous
/// input, as the SD UNet uses it: GroupNorm (eps 1e-6), a projection into tokens, a stack of
/// `BasicTransformerBlock`s, a projection back and a residual connection.
///
/// `useLinearProjection` (SD 2.x) projects with linear layers after flattening; otherwise
/// (SD 1.x) with 1x1 convolutions before flattening. Limitations: no discrete (VQ) or patched
/// input, no ada-norm variants, no attention masks.
public struct Transformer2DModel: Sendable {
    /// proj_in / proj_out: a 1x1 convolution on the feature map or a linear layer on tokens.
    enum Projection: Sendable {
        case convolution(Conv2D)
        case linear(Linear)

        init(_ parameters: Parameters, inChannels: Int, outChannels: Int, linear: Bool) throws {
            self = linear
                ? .linear(try Linear(parameters, inFeatures: inChannels, outFeatures: outChannels))
                : .convolution(try Conv2D(parameters, inChannels: inChannels, outChannels: outChannels, kernelSize: 1))
        }
    }

    public let norm: GroupNorm
    let projIn: Projection
    public let transformerBlocks: [BasicTransformerBlock]
    let projOut: Projection

    /// `inChannels` is both the feature-map width and `heads * headDim` in every SD UNet.
    public init(
        _ parameters: Parameters, heads: Int, headDim: Int, inChannels: Int, layers: Int = 1,
        crossAttentionDim: Int, normGroups: Int, useLinearProjection: Bool, onlyCrossAttention: Bool = false
    ) throws {
        let innerDim = heads * headDim
        norm = try GroupNorm(parameters.scoped("norm"), groups: normGroups, channels: inChannels, eps: 1e-6)
        projIn = try Projection(parameters.scoped("proj_in"), inChannels: inChannels, outChannels: innerDim,
                                linear: useLinearProjection)
        transformerBlocks = try (0..<layers).map { index in
            try BasicTransformerBlock(parameters.scoped("transformer_blocks.\(index)"), dim: innerDim, heads: heads,
                                      headDim: headDim, crossAttentionDim: crossAttentionDim,
                                      onlyCrossAttention: onlyCrossAttention)
        }
        projOut = try Projection(parameters.scoped("proj_out"), inChannels: innerDim, outChannels: inChannels,
                                 linear: useLinearProjection)
    }

    // x: [B, C, H, W], encoderHiddenStates: [B, L, cross_attention_dim] -> [B, C, H, W]
    public func callAsFunction(_ x: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        var tokens = toTokens(norm(x))
        for block in transformerBlocks {
            tokens = block(tokens, encoderHiddenStates: encoderHiddenStates)
        }
        var output = toFeatureMap(tokens, batch: batch, height: height, width: width)
        output += x
        return output
    }

    // x: [B, C, H, W] -> [B, HW, inner]
    private func toTokens(_ x: Tensor) -> Tensor {
        switch projIn {
        case let .convolution(conv):
            return flatten(conv(x))
        case let .linear(layer):
            return layer(flatten(x))
        }
    }

    // tokens: [B, HW, inner] -> [B, C, H, W]
    private func toFeatureMap(_ tokens: Tensor, batch: Int, height: Int, width: Int) -> Tensor {
        switch projOut {
        case let .convolution(conv):
            return conv(unflatten(tokens, batch: batch, height: height, width: width))
        case let .linear(layer):
            return unflatten(layer(tokens), batch: batch, height: height, width: width)
        }
    }

    // x: [B, C, H, W] -> [B, HW, C]
    private func flatten(_ x: Tensor) -> Tensor {
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return x.permuted([0, 2, 3, 1]).reshaped([batch, height * width, channels])
    }

    // tokens: [B, HW, C] -> [B, C, H, W]
    private func unflatten(_ tokens: Tensor, batch: Int, height: Int, width: Int) -> Tensor {
        let channels = tokens.shape[2]
        return tokens.reshaped([batch, height, width, channels]).permuted([0, 3, 1, 2])
    }
}

/// diffusers' `BasicTransformerBlock` (models/attention.py) with `norm_type="layer_norm"`:
/// self-attention, cross-attention and a GEGLU feed-forward, each pre-normed and residual.
/// With `onlyCrossAttention` the first attention attends to the encoder hidden states as well.
///
/// Limitations: `double_self_attention`, ada-norm and gated (GLIGEN) variants are not provided.
public struct BasicTransformerBlock: Sendable {
    let norm1: LayerNorm
    public let attn1: Attention
    let norm2: LayerNorm
    public let attn2: Attention
    let norm3: LayerNorm
    public let ff: FeedForward
    public let onlyCrossAttention: Bool

    public init(_ parameters: Parameters, dim: Int, heads: Int, headDim: Int, crossAttentionDim: Int,
                onlyCrossAttention: Bool = false) throws {
        norm1 = try LayerNorm(parameters.scoped("norm1"), width: dim)
        attn1 = try Attention(parameters.scoped("attn1"), queryDim: dim,
                              crossAttentionDim: onlyCrossAttention ? crossAttentionDim : nil,
                              heads: heads, dimHead: headDim)
        norm2 = try LayerNorm(parameters.scoped("norm2"), width: dim)
        attn2 = try Attention(parameters.scoped("attn2"), queryDim: dim, crossAttentionDim: crossAttentionDim,
                              heads: heads, dimHead: headDim)
        norm3 = try LayerNorm(parameters.scoped("norm3"), width: dim)
        ff = try FeedForward(parameters.scoped("ff"), dim: dim)
        self.onlyCrossAttention = onlyCrossAttention
    }

    // x: [B, L, dim], encoderHiddenStates: [B, Lk, cross_attention_dim] -> [B, L, dim]
    public func callAsFunction(_ x: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        // Each residual is summed inside the output projection's product (`adding:`).
        var hidden = attn1(norm1(x), encoderHiddenStates: onlyCrossAttention ? encoderHiddenStates : nil, adding: x)
        hidden = attn2(norm2(hidden), encoderHiddenStates: encoderHiddenStates, adding: hidden)
        return ff(norm3(hidden), adding: hidden)
    }
}

/// diffusers' `FeedForward` with `activation_fn="geglu"`: `net.0` is GEGLU (a projection to
/// twice the inner width, then hidden * gelu(gate)), `net.1` dropout, `net.2` the projection back.
public struct FeedForward: Sendable {
    public let geluProjection: Linear
    public let outProjection: Linear

    public init(_ parameters: Parameters, dim: Int, multiplier: Int = 4) throws {
        let inner = dim * multiplier
        geluProjection = try Linear(parameters.scoped("net.0.proj"), inFeatures: dim, outFeatures: 2 * inner)
        outProjection = try Linear(parameters.scoped("net.2"), inFeatures: inner, outFeatures: dim)
    }

    /// The feed-forward of `x` plus `residual` (the block's residual connection), summed in the
    /// output projection's product.
    // x: [..., dim], residual: [..., dim] -> [..., dim]
    public func callAsFunction(_ x: Tensor, adding residual: Tensor) -> Tensor {
        let gated = geglu(projecting: x, weight: geluProjection.storedWeight, bias: geluProjection.bias)
        return outProjection(gated, adding: residual)
    }
}
