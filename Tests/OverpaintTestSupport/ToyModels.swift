import Models

// The tests' random models keep a real architecture's layout at widths a test can run in
// moments; these are the cuts they share.

extension CLIPTextConfig {
    /// This text encoder `width` wide, with a feed-forward twice that, `layers` deep and with
    /// `heads` attention heads.
    public func shrunk(width: Int, layers: Int, heads: Int) -> CLIPTextConfig {
        var config = self
        config.hiddenSize = width
        config.intermediateSize = 2 * width
        config.numHiddenLayers = layers
        config.numAttentionHeads = heads
        return config
    }
}

extension AutoencoderKLConfig {
    /// This VAE with one level of plain encoder and decoder blocks per width of `channels`, one
    /// ResNet a block.
    public func shrunk(to channels: [Int]) -> AutoencoderKLConfig {
        var config = self
        config.blockOutChannels = channels
        config.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: channels.count)
        config.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: channels.count)
        config.layersPerBlock = 1
        return config
    }
}

extension UNet2DConditionConfig {
    /// This UNet with one level per width of `channels`, each with cross-attention where
    /// `attention` says so (the up path mirroring the down path), one layer a block, and
    /// `crossAttention`-wide text conditioning.
    public func shrunk(to channels: [Int], attention: [Bool], crossAttention: Int) -> UNet2DConditionConfig {
        var config = self
        config.blockOutChannels = channels
        config.downBlockTypes = attention.map { $0 ? "CrossAttnDownBlock2D" : "DownBlock2D" }
        config.upBlockTypes = attention.reversed().map { $0 ? "CrossAttnUpBlock2D" : "UpBlock2D" }
        config.layersPerBlock = .shared(1)
        config.crossAttentionDim = .shared(crossAttention)
        return config
    }
}
