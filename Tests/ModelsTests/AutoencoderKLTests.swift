import Foundation
import Testing
import Tensors
import Weights
@testable import Models

/// A tiny random AutoencoderKL saved by diffusers, against diffusers' encode, posterior sample,
/// decode and tiled decode/encode (tools/reference/vae_fixtures.py).
struct AutoencoderKLTests {
    let vae: AutoencoderKL
    let io: [String: Tensor]

    init() throws {
        vae = try AutoencoderKL(folder: ModelFixtures.url("vae", ""))
        io = try ModelFixtures.tensors("vae", "vae_io.safetensors")
    }

    private func fixture(_ name: String) throws -> Tensor {
        try #require(io[name], "no \(name) in vae_io.safetensors")
    }

    @Test func configMatchesTheSavedFolder() {
        #expect(vae.config.blockOutChannels == [8, 16])
        #expect(vae.config.normNumGroups == 4)
        #expect(vae.config.scalingFactor == 0.18215)
        #expect(vae.config.shiftFactor == nil)
        #expect(vae.downscaleFactor == 2)
    }

    @Test func encodeGivesMeanAndLogVariance() throws {
        let posterior = vae.encode(try fixture("encode.input"))
        expectClose(posterior.mean, try fixture("encode.mean"))
        expectClose(posterior.logvar, try fixture("encode.logvar"))
    }

    @Test func posteriorSampleDrawsLikeTorch() throws {
        let posterior = vae.encode(try fixture("encode.input"))
        var generator = TorchGenerator(seed: 0)
        expectClose(posterior.sample(generator: &generator), try fixture("sample.output"))
    }

    @Test func decode() throws {
        expectClose(vae.decode(try fixture("decode.input")), try fixture("decode.output"))
    }

    @Test func tiledDecodeBlendsLikeDiffusers() throws {
        var tiled = vae
        tiled.tiling = VAETiling(sampleTileSize: 16, latentTileSize: 8)
        let latent = try fixture("tiled_decode.input")
        let expected = try fixture("tiled_decode.output")
        expectClose(tiled.decode(latent), expected)
        // The untiled decode differs, so the tiling (not a plain decode) is what matched.
        #expect(relativeError(vae.decode(latent), expected) > 1e-2)
    }

    @Test func tiledEncodeBlendsLikeDiffusers() throws {
        var tiled = vae
        tiled.tiling = VAETiling(sampleTileSize: 16, latentTileSize: 8)
        let posterior = tiled.encode(try fixture("tiled_encode.input"))
        expectClose(posterior.mean, try fixture("tiled_encode.mean"))
        expectClose(posterior.logvar, try fixture("tiled_encode.logvar"))
    }

    @Test func enableTilingUsesSampleSize() {
        var tiled = vae
        tiled.enableTiling()
        #expect(tiled.tiling == VAETiling(sampleTileSize: 32, latentTileSize: 16, overlapFactor: 0.25))
    }

    @Test func extraTensorIsRefused() throws {
        let store = try ModelFixtures.store("vae", "blocks.safetensors")
        let error = #expect(throws: ModelsError.self) {
            try AutoencoderKL(config: vae.config, parameters: Parameters(store))
        }
        #expect(error?.errorDescription?.contains("encoder.conv_in.weight") == true)
    }
}
