import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// `Timesteps` against diffusers' `get_timestep_embedding` (tools/reference/unet_fixtures.py,
/// write_timestep_embeddings) for timesteps [0, 1, 17.5, 999].
@Suite struct UNetEmbeddingsTests {
    static let reference: SafeTensorsFile? = try? SafeTensorsFile(url: Fixtures.url("unet", "timesteps.safetensors"))

    @Test(arguments: [
        // get_timestep_embedding(timesteps, 8, flip_sin_to_cos=True, downscale_freq_shift=0)
        ("dim8_flip_shift0", 8, true, Float(0)),
        // get_timestep_embedding(timesteps, 7, flip_sin_to_cos=False, downscale_freq_shift=1)
        ("dim7_noflip_shift1", 7, false, Float(1)),
    ])
    func matchesDiffusers(name: String, channels: Int, flip: Bool, shift: Float) throws {
        let file = try #require(Self.reference)
        let timesteps = try file.tensor(named: "timesteps").scalars
        let expected = try file.tensor(named: name)
        let embedding = Timesteps(channels: channels, flipSinToCos: flip, downscaleFreqShift: shift)(timesteps)
        #expect(embedding.shape == expected.shape)
        let maxError = maxAbsoluteError(embedding, expected)
        // Values lie in [-1, 1]; measured max absolute error below 1e-6.
        #expect(maxError < 1e-5)
        let hasNaN = embedding.scalars.contains { $0.isNaN }
        #expect(!hasNaN)
    }
}
