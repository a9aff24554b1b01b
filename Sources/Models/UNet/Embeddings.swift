import Foundation
import Tensors

/// diffusers' `Timesteps` (models/embeddings.py, `get_timestep_embedding`): the sinusoidal
/// embedding of (possibly fractional) timesteps.
///
/// Frequencies are exp(-ln(10000) * i / (half - downscaleFreqShift)) for i < half, computed in
/// f32 as torch does; the output is [sin | cos], or [cos | sin] with `flipSinToCos` (SD's
/// setting). An odd `channels` gets a trailing zero column.
public struct Timesteps: Sendable {
    public let channels: Int
    public let flipSinToCos: Bool
    public let downscaleFreqShift: Float
    private let frequencies: [Float]

    public init(channels: Int, flipSinToCos: Bool, downscaleFreqShift: Float, maxPeriod: Float = 10_000) {
        self.channels = channels
        self.flipSinToCos = flipSinToCos
        self.downscaleFreqShift = downscaleFreqShift
        let half = channels / 2
        let logPeriod = -Float(log(Double(maxPeriod)))
        frequencies = (0..<half).map { index in
            expf(logPeriod * Float(index) / (Float(half) - downscaleFreqShift))
        }
    }

    // timesteps: N values -> [N, channels]
    public func callAsFunction(_ timesteps: [Float]) -> Tensor {
        let half = frequencies.count
        var out = Tensor(zeros: [timesteps.count, channels])
        let (sineOffset, cosineOffset) = flipSinToCos ? (half, 0) : (0, half)
        for (row, timestep) in timesteps.enumerated() {
            for (column, frequency) in frequencies.enumerated() {
                // The argument is rounded to f32 first, as torch multiplies in f32.
                let argument = Double(timestep * frequency)
                out.scalars[row * channels + sineOffset + column] = Float(sin(argument))
                out.scalars[row * channels + cosineOffset + column] = Float(cos(argument))
            }
        }
        return out
    }
}

/// diffusers' `TimestepEmbedding` as the SD UNet builds it: linear_1, SiLU, linear_2
/// (no `cond_proj`, no post-activation).
public struct TimestepEmbedding: Sendable {
    public let linear1: Linear
    public let linear2: Linear

    public init(_ parameters: Parameters, inChannels: Int, timeEmbedDim: Int) throws {
        linear1 = try Linear(parameters.scoped("linear_1"), inFeatures: inChannels, outFeatures: timeEmbedDim)
        linear2 = try Linear(parameters.scoped("linear_2"), inFeatures: timeEmbedDim, outFeatures: timeEmbedDim)
    }

    // x: [N, in] -> [N, time_embed_dim]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        linear2(silu(linear1(x)))
    }
}
