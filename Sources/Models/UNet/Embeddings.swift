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

/// diffusers' `TimestepEmbedding` as the SD UNet builds it: linear_1, SiLU, linear_2, and for
/// a UNet with a guidance embedding (`time_cond_proj_dim`) `cond_proj`, whose projection of the
/// condition is added to the input first (no post-activation).
public struct TimestepEmbedding: Sendable {
    public let linear1: Linear
    public let linear2: Linear
    /// `cond_proj` (no bias), when the model takes a `timestep_cond`.
    public let conditionProjection: Linear?

    public init(_ parameters: Parameters, inChannels: Int, timeEmbedDim: Int, conditionChannels: Int? = nil) throws {
        linear1 = try Linear(parameters.scoped("linear_1"), inFeatures: inChannels, outFeatures: timeEmbedDim)
        linear2 = try Linear(parameters.scoped("linear_2"), inFeatures: timeEmbedDim, outFeatures: timeEmbedDim)
        conditionProjection = try conditionChannels.map {
            try Linear(parameters.scoped("cond_proj"), inFeatures: $0, outFeatures: inChannels, bias: false)
        }
    }

    // x: [N, in], condition: [N, cond] -> [N, time_embed_dim]
    public func callAsFunction(_ x: Tensor, condition: Tensor? = nil) -> Tensor {
        guard let condition else { return linear2(silu(linear1(x))) }
        guard let conditionProjection else { preconditionFailure("a timestep condition for a time embedding without cond_proj") }
        return linear2(silu(linear1(conditionProjection(condition, adding: x))))
    }
}

/// The pipelines' `get_guidance_scale_embedding` (after VDM): the sinusoidal embedding of
/// `w * 1000` for each guidance weight w (the pipelines pass `guidance_scale - 1`), which a UNet
/// with a guidance embedding takes as `timestep_cond`.
///
/// Frequencies are exp(-i * ln(10000) / (half - 1)) for i < half, every product in f32 as torch
/// computes them; the output is [sin | cos], with a trailing zero column for an odd `channels`.
// weights: N values -> [N, channels]
public func guidanceScaleEmbedding(_ weights: [Float], channels: Int) -> Tensor {
    let half = channels / 2
    let step = Float(log(Double(10_000))) / Float(half - 1)
    let frequencies = (0..<half).map { expf(Float(-$0) * step) }
    var out = Tensor(zeros: [weights.count, channels])
    for (row, weight) in weights.enumerated() {
        let scaled = weight * 1000
        for (column, frequency) in frequencies.enumerated() {
            let argument = Double(scaled * frequency)
            out.scalars[row * channels + column] = Float(sin(argument))
            out.scalars[row * channels + half + column] = Float(cos(argument))
        }
    }
    return out
}
