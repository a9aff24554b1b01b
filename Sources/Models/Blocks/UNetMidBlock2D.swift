import Tensors

/// diffusers' UNetMidBlock2D (unets/unet_2d_blocks.py) as the VAE uses it: ResNet, then per
/// layer a spatial self-attention (GroupNorm, q/k/v bias, residual) and another ResNet.
///
/// Only `resnet_time_scale_shift="default"` is provided (the SD VAEs); the "spatial" norm of
/// MoVQ-style decoders is not.
public struct UNetMidBlock2D: Sendable {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Attention?]

    /// `attentionHeadDim` defaults to `channels` (one head), as the VAE's encoder and decoder pass.
    public init(_ parameters: Parameters, channels: Int, tembChannels: Int? = nil, layers: Int = 1, groups: Int,
                eps: Float, addAttention: Bool = true, attentionHeadDim: Int? = nil,
                outputScaleFactor: Float = 1) throws {
        let headDim = attentionHeadDim ?? channels
        func resnet(_ index: Int) throws -> ResnetBlock2D {
            try ResnetBlock2D(parameters.scoped("resnets.\(index)"), inChannels: channels, outChannels: channels,
                              tembChannels: tembChannels, groups: groups, eps: eps,
                              outputScaleFactor: outputScaleFactor)
        }
        resnets = try (0...layers).map(resnet)
        attentions = try (0..<layers).map { index in
            guard addAttention else { return nil }
            return try Attention(parameters.scoped("attentions.\(index)"), queryDim: channels,
                                 heads: channels / headDim, dimHead: headDim, bias: true, normNumGroups: groups,
                                 eps: eps, residualConnection: true, rescaleOutputFactor: outputScaleFactor)
        }
    }

    // x: [N, C, H, W], temb: [N, temb_channels] -> [N, C, H, W]
    public func callAsFunction(_ x: Tensor, temb: Tensor? = nil) -> Tensor {
        var hidden = resnets[0](x, temb: temb)
        for (attention, resnet) in zip(attentions, resnets.dropFirst()) {
            if let attention { hidden = attention.spatial(hidden) }
            hidden = resnet(hidden, temb: temb)
        }
        return hidden
    }
}
