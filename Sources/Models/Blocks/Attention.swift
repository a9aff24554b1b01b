import Tensors

/// diffusers' `Attention` (models/attention_processor.py) run by `AttnProcessor2_0`, in the
/// configurations Stable Diffusion uses: self- or cross-attention for the UNet's transformer
/// blocks (no q/k/v bias) and the VAE mid-block's spatial self-attention (q/k/v bias, a
/// GroupNorm first, a residual connection).
///
/// Everything runs in f32, so `upcast_attention` / `upcast_softmax` change nothing.
public struct Attention: Sendable {
    public let heads: Int
    public let groupNorm: GroupNorm?
    public let toQuery: Linear
    public let toKey: Linear
    public let toValue: Linear
    public let toOut: Linear
    public let residualConnection: Bool
    public let rescaleOutputFactor: Float

    /// `normNumGroups` non-nil adds the `group_norm` applied before the projections.
    public init(
        _ parameters: Parameters, queryDim: Int, crossAttentionDim: Int? = nil, heads: Int = 8, dimHead: Int = 64,
        bias: Bool = false, outBias: Bool = true, outDim: Int? = nil, normNumGroups: Int? = nil, eps: Float = 1e-5,
        residualConnection: Bool = false, rescaleOutputFactor: Float = 1
    ) throws {
        let innerDim = heads * dimHead
        let contextDim = crossAttentionDim ?? queryDim
        self.heads = heads
        groupNorm = try normNumGroups.map {
            try GroupNorm(parameters.scoped("group_norm"), groups: $0, channels: queryDim, eps: eps)
        }
        toQuery = try Linear(parameters.scoped("to_q"), inFeatures: queryDim, outFeatures: innerDim, bias: bias)
        toKey = try Linear(parameters.scoped("to_k"), inFeatures: contextDim, outFeatures: innerDim, bias: bias)
        toValue = try Linear(parameters.scoped("to_v"), inFeatures: contextDim, outFeatures: innerDim, bias: bias)
        toOut = try Linear(parameters.scoped("to_out.0"), inFeatures: innerDim, outFeatures: outDim ?? queryDim,
                           bias: outBias)
        self.residualConnection = residualConnection
        self.rescaleOutputFactor = rescaleOutputFactor
    }

    /// Attention over a token sequence; `encoderHiddenStates` nil means self-attention.
    // x: [B, L, query_dim], encoderHiddenStates: [B, Lk, cross_attention_dim] -> [B, L, out_dim]
    public func callAsFunction(_ x: Tensor, encoderHiddenStates: Tensor? = nil) -> Tensor {
        let normalized = groupNorm.map { $0(x.transposed(1, 2)).transposed(1, 2) } ?? x
        return finish(attend(normalized, context: encoderHiddenStates ?? normalized), residual: x)
    }

    /// `self(x, encoderHiddenStates) + residual` with the sum made in the output projection's
    /// product (a transformer block's residual connection); for attentions without a residual
    /// connection or rescale of their own.
    // x: [B, L, query_dim], residual: [B, L, out_dim] -> [B, L, out_dim]
    public func callAsFunction(_ x: Tensor, encoderHiddenStates: Tensor? = nil, adding residual: Tensor) -> Tensor {
        precondition(groupNorm == nil && !residualConnection && rescaleOutputFactor == 1,
                     "Attention adds an outside residual only when it has none of its own")
        return attend(x, context: encoderHiddenStates ?? x, adding: residual)
    }

    /// Attention over the pixels of a feature map, as diffusers' 4-D input path.
    // x: [B, C, H, W] -> [B, C, H, W]
    public func spatial(_ x: Tensor, encoderHiddenStates: Tensor? = nil) -> Tensor {
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        // GroupNorm over [B, C, HW] is GroupNorm over [B, C, H, W]: normalise before the transpose.
        let normalized = groupNorm.map { $0(x) } ?? x
        let tokens = normalized.reshaped([batch, channels, height * width]).transposed(1, 2)
        let attended = attend(tokens, context: encoderHiddenStates ?? tokens)
        let outChannels = attended.shape[2]
        let map = attended.transposed(1, 2).reshaped([batch, outChannels, height, width])
        return finish(map, residual: x)
    }

    /// `residual`, when given, is summed in the output projection's product.
    // tokens: [B, L, query_dim], context: [B, Lk, context_dim], residual: [B, L, out_dim] -> [B, L, out_dim]
    private func attend(_ tokens: Tensor, context: Tensor, adding residual: Tensor? = nil) -> Tensor {
        let output = attention(toQuery(tokens), toKey(context), toValue(context), heads: heads)
        return residual.map { toOut(output, adding: $0) } ?? toOut(output)
    }

    private func finish(_ output: Tensor, residual: Tensor) -> Tensor {
        var result = output
        if residualConnection { result += residual }
        if rescaleOutputFactor != 1 { result = result / rescaleOutputFactor }
        return result
    }
}
