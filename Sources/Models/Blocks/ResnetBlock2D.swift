import Tensors

/// diffusers' ResnetBlock2D (models/resnet.py): GroupNorm-SiLU-conv twice, the time embedding
/// added (or applied as scale/shift) between them, and a 1x1 shortcut where the width changes.
///
/// Dropout is the identity at inference; `up`/`down` resampling inside the block is not used
/// by the SD UNet or VAE and is not provided.
public struct ResnetBlock2D: Sendable {
    /// How the time embedding enters the block (`time_embedding_norm`).
    public enum TimeEmbeddingNorm: String, Sendable, Codable {
        /// Added to the features before `norm2`.
        case `default`
        /// Split into scale and shift applied after `norm2`.
        case scaleShift = "scale_shift"
    }

    public let norm1: GroupNorm
    public let conv1: Conv2D
    public let timeEmbeddingProjection: Linear?
    public let timeEmbeddingNorm: TimeEmbeddingNorm
    public let skipTimeActivation: Bool
    public let norm2: GroupNorm
    public let conv2: Conv2D
    public let convShortcut: Conv2D?
    public let outputScaleFactor: Float

    /// `temb_channels` nil means no `time_emb_proj` (the VAE's blocks).
    public init(
        _ parameters: Parameters, inChannels: Int, outChannels: Int? = nil, tembChannels: Int? = 512,
        groups: Int = 32, groupsOut: Int? = nil, eps: Float = 1e-6,
        timeEmbeddingNorm: TimeEmbeddingNorm = .default, skipTimeActivation: Bool = false,
        outputScaleFactor: Float = 1, useInShortcut: Bool? = nil, convShortcutBias: Bool = true,
        conv2dOutChannels: Int? = nil
    ) throws {
        let outChannels = outChannels ?? inChannels
        let finalChannels = conv2dOutChannels ?? outChannels
        norm1 = try GroupNorm(parameters.scoped("norm1"), groups: groups, channels: inChannels, eps: eps)
        conv1 = try Conv2D(parameters.scoped("conv1"), inChannels: inChannels, outChannels: outChannels,
                           kernelSize: 3, padding: 1)
        if let tembChannels {
            let projected = timeEmbeddingNorm == .scaleShift ? 2 * outChannels : outChannels
            timeEmbeddingProjection = try Linear(parameters.scoped("time_emb_proj"), inFeatures: tembChannels,
                                                 outFeatures: projected)
        } else {
            timeEmbeddingProjection = nil
        }
        self.timeEmbeddingNorm = timeEmbeddingNorm
        self.skipTimeActivation = skipTimeActivation
        norm2 = try GroupNorm(parameters.scoped("norm2"), groups: groupsOut ?? groups, channels: outChannels, eps: eps)
        conv2 = try Conv2D(parameters.scoped("conv2"), inChannels: outChannels, outChannels: finalChannels,
                           kernelSize: 3, padding: 1)
        if useInShortcut ?? (inChannels != finalChannels) {
            convShortcut = try Conv2D(parameters.scoped("conv_shortcut"), inChannels: inChannels,
                                      outChannels: finalChannels, kernelSize: 1, bias: convShortcutBias)
        } else {
            convShortcut = nil
        }
        self.outputScaleFactor = outputScaleFactor
    }

    // x: [N, in, H, W], temb: [N, temb_channels] -> [N, out, H, W]
    public func callAsFunction(_ x: Tensor, temb: Tensor? = nil) -> Tensor {
        // The norms' apply passes run inside the convolutions' staging (`preparedBy`).
        var hidden = conv1(x, preparedBy: norm1.affine(for: x, fusedSiLU: true))
        let projected = projectedTimeEmbedding(temb)
        switch timeEmbeddingNorm {
        case .default:
            if let projected { hidden += projected }
            hidden = conv2(hidden, preparedBy: norm2.affine(for: hidden, fusedSiLU: true))
        case .scaleShift:
            hidden = norm2(hidden)
            if let projected {
                let halves = projected.chunked(2, axis: 1)
                hidden = hidden * (halves[0] + 1) + halves[1]
            }
            hidden = conv2(silu(hidden))
        }
        hidden += convShortcut.map { $0(x) } ?? x
        if outputScaleFactor != 1 { hidden = hidden / outputScaleFactor }
        return hidden
    }

    // temb: [N, temb_channels] -> [N, C, 1, 1]
    private func projectedTimeEmbedding(_ temb: Tensor?) -> Tensor? {
        guard let projection = timeEmbeddingProjection, let temb else { return nil }
        let projected = projection(skipTimeActivation ? temb : silu(temb))
        return projected.reshaped(projected.shape + [1, 1])
    }
}
