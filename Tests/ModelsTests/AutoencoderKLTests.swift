import Foundation
import OverpaintTestSupport
import Testing
@testable import Tensors
import Weights
@testable import Models

/// A tiny random AutoencoderKL saved by diffusers, against diffusers' encode, posterior sample,
/// decode and tiled decode/encode (tools/reference/vae_fixtures.py).
struct AutoencoderKLTests {
    let vae: AutoencoderKL
    let io: FixtureTensors

    init() throws {
        vae = try AutoencoderKL(folder: Fixtures.url("vae", ""))
        io = try FixtureTensors("vae", "vae_io.safetensors")
    }

    @Test func configMatchesTheSavedFolder() {
        #expect(vae.config.blockOutChannels == [8, 16])
        #expect(vae.config.normNumGroups == 4)
        #expect(vae.config.scalingFactor == 0.18215)
        #expect(vae.config.shiftFactor == nil)
        #expect(vae.downscaleFactor == 2)
    }

    @Test func encodeGivesMeanAndLogVariance() throws {
        let posterior = vae.encode(try io.tensor("encode.input"))
        expectRelativeError(posterior.mean, try io.tensor("encode.mean"))
        expectRelativeError(posterior.logvar, try io.tensor("encode.logvar"))
    }

    @Test func posteriorSampleDrawsLikeTorch() throws {
        let posterior = vae.encode(try io.tensor("encode.input"))
        var generator = TorchGenerator(seed: 0)
        expectRelativeError(posterior.sample(generator: &generator), try io.tensor("sample.output"))
    }

    @Test func decode() throws {
        expectRelativeError(vae.decode(try io.tensor("decode.input")), try io.tensor("decode.output"))
    }

    @Test func decodeWithEveryConvolutionByWinograd() throws {
        let decoded = try Winograd.withRule(.always) { vae.decode(try io.tensor("decode.input")) }
        expectRelativeError(decoded, try io.tensor("decode.output"))
    }

    @Test func tiledDecodeBlendsLikeDiffusers() throws {
        var tiled = vae
        tiled.tiling = VAETiling(sampleTileSize: 16, latentTileSize: 8)
        let latent = try io.tensor("tiled_decode.input")
        let expected = try io.tensor("tiled_decode.output")
        expectRelativeError(tiled.decode(latent), expected)
        // The untiled decode differs, so the tiling (not a plain decode) is what matched.
        #expect(maxRelativeError(vae.decode(latent), expected) > 1e-2)
    }

    @Test func tiledEncodeBlendsLikeDiffusers() throws {
        var tiled = vae
        tiled.tiling = VAETiling(sampleTileSize: 16, latentTileSize: 8)
        let posterior = tiled.encode(try io.tensor("tiled_encode.input"))
        expectRelativeError(posterior.mean, try io.tensor("tiled_encode.mean"))
        expectRelativeError(posterior.logvar, try io.tensor("tiled_encode.logvar"))
    }

    @Test func enableTilingUsesSampleSize() {
        var tiled = vae
        tiled.enableTiling()
        #expect(tiled.tiling == VAETiling(sampleTileSize: 32, latentTileSize: 16, overlapFactor: 0.25))
    }

    @Test func extraTensorIsRefused() throws {
        let store = try Fixtures.store("vae", "blocks.safetensors")
        let error = #expect(throws: ModelsError.self) {
            try AutoencoderKL(config: vae.config, source: store)
        }
        #expect(error?.errorDescription?.contains("encoder.conv_in.weight") == true)
    }
}

/// Loading paths other than a current diffusers folder.
struct AutoencoderKLLoadingTests {
    @Test func legacyAttentionNamesLoadAsDiffusersRenamesThem() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-vae-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let current = try Fixtures.tensors("vae", "diffusion_pytorch_model.safetensors")
        let legacy = ["to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"]
        var renamed: [String: Tensor] = [:]
        for (key, tensor) in current {
            let old = legacy.reduce(key) { name, pair in name.replacingOccurrences(of: ".\(pair.key).", with: ".\(pair.value).") }
            renamed[old] = tensor
        }
        #expect(renamed["decoder.mid_block.attentions.0.proj_attn.weight"] != nil)
        try SafeTensorsWriter.write(renamed, to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        try FileManager.default.copyItem(at: Fixtures.url("vae", "config.json"),
                                         to: folder.appendingPathComponent("config.json"))
        let vae = try AutoencoderKL(folder: folder)
        let io = try FixtureTensors("vae", "vae_io.safetensors")
        expectRelativeError(vae.decode(try io.tensor("decode.input")), try io.tensor("decode.output"))
    }

    @Test func configDefaultsAndListSampleSize() throws {
        let json = #"{"block_out_channels": [32, 64], "sample_size": [48, 64], "scaling_factor": 0.13025}"#
        let config = try JSONDecoder().decode(AutoencoderKLConfig.self, from: Data(json.utf8))
        #expect(config.sampleSize == 48)
        #expect(config.scalingFactor == 0.13025)
        #expect(config.layersPerBlock == 1 && config.latentChannels == 4 && config.normNumGroups == 32)
        #expect(config.useQuantConv && config.usePostQuantConv && config.midBlockAddAttention)
    }

    @Test func unsupportedBlockTypeIsNamed() throws {
        var config = AutoencoderKLConfig()
        config.downBlockTypes = ["AttnDownEncoderBlock2D"]
        let store = try Fixtures.store("vae", "diffusion_pytorch_model.safetensors")
        let error = #expect(throws: ModelsError.self) { try AutoencoderKL(config: config, source: store) }
        #expect(error?.errorDescription?.contains("AttnDownEncoderBlock2D") == true)
    }

    @Test func malformedConfigNamesTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-vae-\(UUID().uuidString).json")
        try Data(#"{"block_out_channels": "wide"}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = #expect(throws: ModelsError.self) { try AutoencoderKLConfig.load(from: url) }
        #expect(error?.errorDescription?.contains(url.lastPathComponent) == true)
        #expect(error?.errorDescription?.contains("block_out_channels") == true)
    }
}

struct StableDiffusionVAEShapeTests {
    /// The preset builds exactly diffusers' SD VAE: every tensor read with its shape, none left
    /// over (the load ends with `checkAllUsed`, so it would throw on a tensor never read).
    @Test func presetReadsEveryTensorOfTheRealArchitecture() throws {
        let shapes = try Fixtures.decoded([String: [Int]].self, "vae", "sd_vae_shapes.json")
        #expect(shapes.count == 248)
        let vae = try AutoencoderKL(config: .stableDiffusion(), source: ZeroParameterSource(shapes: shapes, path: "sd_vae_shapes.json"))
        #expect(vae.downscaleFactor == 8)
    }
}
