import Foundation
import Tensors

/// diffusers' DiagonalGaussianDistribution: the VAE posterior, from the encoder's moments.
public struct DiagonalGaussian: Sendable {
    public let mean: Tensor
    /// The log-variance, clamped to [-30, 20] as diffusers does.
    public let logvar: Tensor

    /// Splits `[N, 2C, h, w]` moments into mean (first C channels) and log-variance.
    public init(moments: Tensor) {
        let halves = moments.chunked(2, axis: 1)
        mean = halves[0]
        var logvar = halves[1]
        logvar.withUnsafeMutableBufferPointer { values in
            for index in values.indices { values[index] = min(max(values[index], -30), 20) }
        }
        self.logvar = logvar
    }

    /// The posterior mode (its mean), what diffusers' `mode()` and `argmax` return.
    public var mode: Tensor { mean }

    /// `mean + exp(0.5 * logvar) * randn(mean.shape)`, drawing exactly as diffusers'
    /// `sample(generator)` does from a torch CPU generator.
    public func sample(generator: inout TorchGenerator) -> Tensor {
        let noise = generator.randn(mean.shape)
        return Tensor(shape: mean.shape) { out in
            mean.withUnsafeBufferPointer { means in
                logvar.withUnsafeBufferPointer { logvars in
                    noise.withUnsafeBufferPointer { noises in
                        for index in out.indices {
                            out[index] = means[index] + Foundation.exp(0.5 * logvars[index]) * noises[index]
                        }
                    }
                }
            }
        }
    }
}
