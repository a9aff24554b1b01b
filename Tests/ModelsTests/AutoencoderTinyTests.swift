import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Models

/// A tiny random AutoencoderTiny (TAESD's architecture) saved by diffusers, against its encode
/// and decode (tools/reference/taesd_fixtures.py).
struct AutoencoderTinyTests {
    let model: AutoencoderTiny
    let io: FixtureTensors

    init() throws {
        model = try AutoencoderTiny(folder: Fixtures.url("taesd", "taesd"))
        io = try FixtureTensors("taesd", "io.safetensors")
    }

    @Test func configMatchesTheSavedFolder() {
        #expect(model.config.encoderBlockOutChannels == [16, 16, 16, 16])
        #expect(model.config.numDecoderBlocks == [1, 1, 1, 1])
        #expect(model.config.scalingFactor == 1)
        #expect(model.downscaleFactor == 8)
    }

    @Test func encodeGivesDiffusersLatents() throws {
        expectRelativeError(model.encode(try io.tensor("input")), try io.tensor("encoded"))
    }

    @Test func decodeGivesDiffusersImage() throws {
        expectRelativeError(model.decode(try io.tensor("encoded")), try io.tensor("decoded"))
    }

    @Test func anUnsupportedConfigIsRefusedNamingTheField() throws {
        var config = AutoencoderTinyConfig()
        config.actFn = "silu"
        #expect(config.unsupportedFeature == "act_fn 'silu' (only relu)")
        config = AutoencoderTinyConfig()
        config.numDecoderBlocks = [3, 3]
        #expect(config.unsupportedFeature?.contains("decoder_block_out_channels") == true)
    }
}
