import Foundation
import Tensors
import Weights

/// diffusers' DecoderTiny (autoencoders/vae.py), TAESD's decoder: latents softly clamped to
/// (-3, 3), a 3x3 convolution and ReLU, then per block its AutoencoderTinyBlocks, a nearest 2x
/// upsampling (but the last) and a 3x3 convolution (biased only in the last, to the image's
/// channels). Key names are `layers.N` of its nn.Sequential, where the ReLU and the upsamplings
/// take an index each but hold no weights.
public struct DecoderTiny: Sendable {
    enum Layer: Sendable {
        case conv(Conv2D, reLU: Bool)
        case block(AutoencoderTinyBlock)
        case upsample
    }

    let layers: [Layer]

    public init(_ parameters: Parameters, config: AutoencoderTinyConfig) throws {
        let widths = config.decoderBlockOutChannels
        var index = 0
        func scope() -> Parameters {
            defer { index += 1 }
            return parameters.scoped("layers.\(index)")
        }
        var layers: [Layer] = [.conv(try Conv2D(scope(), inChannels: config.latentChannels, outChannels: widths[0],
                                                kernelSize: 3, padding: 1), reLU: true)]
        index += 1
        for (block, count) in config.numDecoderBlocks.enumerated() {
            let width = widths[block], isLast = block == widths.count - 1
            for _ in 0..<count {
                layers.append(.block(try AutoencoderTinyBlock(scope(), inChannels: width, outChannels: width)))
            }
            if !isLast {
                layers.append(.upsample)
                index += 1
            }
            layers.append(.conv(try Conv2D(scope(), inChannels: width, outChannels: isLast ? config.outChannels : width,
                                           kernelSize: 3, padding: 1, bias: isLast), reLU: false))
        }
        self.layers = layers
    }

    /// Images in about [-1, 1] from latents (on the UNet's scale: TAESD's scaling factor is 1).
    // z: [N, latent_channels, h, w] -> [N, out_channels, h * f, w * f]
    public func callAsFunction(_ z: Tensor) -> Tensor {
        let image = layers.reduce(Self.softClamp(z)) { hidden, layer in
            switch layer {
            case .conv(let conv, let reLU): reLU ? conv(hidden, epilogue: .leakyReLU(slope: 0)) : conv(hidden)
            case .block(let block): block(hidden)
            case .upsample: upsampleNearest2x(hidden)
            }
        }
        return image * 2 - 1
    }

    /// `tanh(z / 3) * 3`.
    private static func softClamp(_ z: Tensor) -> Tensor {
        var clamped = z
        clamped.withUnsafeMutableBufferPointer { values in
            for index in values.indices { values[index] = Foundation.tanh(values[index] / 3) * 3 }
        }
        return clamped
    }
}
