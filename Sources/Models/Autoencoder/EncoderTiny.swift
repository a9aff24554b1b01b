import Tensors
import Weights

/// diffusers' EncoderTiny (autoencoders/vae.py), TAESD's encoder: a 3x3 convolution, then per
/// block a stride-2 convolution (but the first) and its AutoencoderTinyBlocks, then a 3x3
/// convolution to the latent channels. Key names are `layers.N` of its nn.Sequential.
public struct EncoderTiny: Sendable {
    enum Layer: Sendable {
        case conv(Conv2D)
        case block(AutoencoderTinyBlock)
    }

    let layers: [Layer]

    public init(_ parameters: Parameters, config: AutoencoderTinyConfig) throws {
        var layers: [Layer] = []
        func scope() -> Parameters { parameters.scoped("layers.\(layers.count)") }
        let widths = config.encoderBlockOutChannels
        for (block, count) in config.numEncoderBlocks.enumerated() {
            let width = widths[block]
            layers.append(.conv(block == 0
                ? try Conv2D(scope(), inChannels: config.inChannels, outChannels: width, kernelSize: 3, padding: 1)
                : try Conv2D(scope(), inChannels: width, outChannels: width, kernelSize: 3,
                             stride: 2, padding: 1, bias: false)))
            for _ in 0..<count {
                layers.append(.block(try AutoencoderTinyBlock(scope(), inChannels: width, outChannels: width)))
            }
        }
        layers.append(.conv(try Conv2D(scope(), inChannels: widths[widths.count - 1], outChannels: config.latentChannels,
                                       kernelSize: 3, padding: 1)))
        self.layers = layers
    }

    /// Latents for images in [-1, 1], which the network reads in [0, 1].
    // x: [N, in_channels, H, W] -> [N, latent_channels, H / f, W / f]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        layers.reduce((x + 1) * 0.5) { hidden, layer in
            switch layer {
            case .conv(let conv): conv(hidden)
            case .block(let block): block(hidden)
            }
        }
    }
}
