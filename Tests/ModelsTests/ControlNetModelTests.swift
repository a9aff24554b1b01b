import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// Parity with diffusers' ControlNetModel on the tiny random ControlNet written by
/// tools/reference/controlnet_fixtures.py (weights f16-exact, everything computed in f32).
/// Measured: residuals within 5e-7 of diffusers (relative to the largest value); tolerance 1e-4.
@Suite struct ControlNetModelTests {
    static let folder = Fixtures.url("controlnet", "")

    struct Fixture {
        let model: ControlNetModel
        let io: SafeTensorsFile

        init(_ adjust: (inout ControlNetConfig) -> Void = { _ in }) throws {
            var config = try ControlNetConfig.load(from: ControlNetModelTests.folder.appendingPathComponent("config.json"))
            adjust(&config)
            model = try ControlNetModel(config: config, source: WeightStore(url: ControlNetModelTests.folder))
            io = try SafeTensorsFile(url: ControlNetModelTests.folder.appendingPathComponent("io.safetensors"))
        }

        func input(_ name: String) throws -> Tensor { try io.tensor(named: name) }

        func run(guessMode: Bool = false) throws -> (downResiduals: [Tensor], midResidual: Tensor) {
            model(sample: try input("sample"), timestep: try input("timestep").scalars[0],
                  encoderHiddenStates: try input("encoder_hidden_states"),
                  controlNetCond: try input("controlnet_cond"),
                  conditioningScale: try input("conditioning_scale").scalars[0], guessMode: guessMode)
        }
    }

    @Test func configReadsDiffusersKeys() throws {
        let config = try ControlNetConfig.load(from: Self.folder.appendingPathComponent("config.json"))
        #expect(config.conditioningEmbeddingOutChannels == [4, 4, 8, 8])
        #expect(config.controlnetConditioningChannelOrder == "rgb")
        #expect(config.globalPoolConditions == false)
        #expect(config.blockOutChannels == [8, 16])
        #expect(config.layersPerBlock == 1)
        #expect(config.crossAttentionDim == 16)
        #expect(config.unsupportedFeature == nil)
    }

    // down, mid = controlnet(sample, t, states, controlnet_cond=cond, conditioning_scale=0.7)
    @Test func residualsMatchDiffusers() throws {
        let fixture = try Fixture()
        let (down, mid) = try fixture.run()
        #expect(down.count == 4)
        for (index, residual) in down.enumerated() {
            let expected = try fixture.input("down_\(index)")
            // The zero convolutions were given weights, so a residual of zeros fails here.
            #expect(expected.scalars.contains { $0 != 0 })
            #expect(maxErrorRelativeToPeak(residual, expected) < 1e-4, "down \(index)")
        }
        #expect(maxErrorRelativeToPeak(mid, try fixture.input("mid")) < 1e-4)
    }

    /// Expects the residuals of `run` to match the fixture's `<prefix>down_<i>` and `<prefix>mid`.
    static func expectResiduals(_ residuals: (downResiduals: [Tensor], midResidual: Tensor), _ fixture: Fixture,
                                prefix: String) throws {
        #expect(residuals.downResiduals.count == 4)
        for (index, residual) in residuals.downResiduals.enumerated() {
            #expect(maxErrorRelativeToPeak(residual, try fixture.input("\(prefix)down_\(index)")) < 1e-4, "down \(index)")
        }
        #expect(maxErrorRelativeToPeak(residuals.midResidual, try fixture.input("\(prefix)mid")) < 1e-4)
    }

    // The same weights with controlnet_conditioning_channel_order "bgr": the control image's
    // channels are flipped first.
    @Test func bgrChannelOrderMatchesDiffusers() throws {
        let fixture = try Fixture { $0.controlnetConditioningChannelOrder = "bgr" }
        try Self.expectResiduals(try fixture.run(), fixture, prefix: "bgr_")
        // The flip matters: the residuals differ from the rgb ones by far more than the tolerance.
        #expect(maxErrorRelativeToPeak(try fixture.input("bgr_mid"), try fixture.input("mid")) > 1e-2)
    }

    // The same weights with global_pool_conditions: every residual averaged to [B, C, 1, 1].
    @Test func globalPoolingMatchesDiffusers() throws {
        let fixture = try Fixture { $0.globalPoolConditions = true }
        let residuals = try fixture.run()
        #expect(residuals.midResidual.shape == [2, 16, 1, 1])
        try Self.expectResiduals(residuals, fixture, prefix: "pooled_")
    }

    // guess_down, guess_mid = controlnet(..., conditioning_scale=0.7, guess_mode=True)
    @Test func guessModeMatchesDiffusers() throws {
        let fixture = try Fixture()
        try Self.expectResiduals(try fixture.run(guessMode: true), fixture, prefix: "guess_")
    }

    // unet_output = unet(sample, t, states, down_block_additional_residuals=down,
    //                    mid_block_additional_residual=mid).sample  (the sd1 UNet fixture)
    @Test func unetWithControlNetResidualsMatchesDiffusers() throws {
        let fixture = try Fixture()
        let unet = try UNet2DConditionModel(folder: Fixtures.url("unet", "sd1"))
        let (down, mid) = try fixture.run()
        let output = unet(sample: try fixture.input("sample"), timestep: try fixture.input("timestep").scalars[0],
                          encoderHiddenStates: try fixture.input("encoder_hidden_states"),
                          downBlockAdditionalResiduals: down, midBlockAdditionalResidual: mid)
        #expect(maxErrorRelativeToPeak(output, try fixture.input("unet_output")) < 1e-4)
    }

    @Test func refusesACheckpointWithAMissingZeroConvolution() throws {
        let config = try ControlNetConfig.load(from: Self.folder.appendingPathComponent("config.json"))
        let store = try WeightStore(url: Self.folder)
        let source = RenamedParameterSource(store, include: { !$0.hasPrefix("controlnet_mid_block.") }) {
            .tensors([RenamedTensor($0)])
        }
        #expect(throws: ModelsError.missingTensor(path: store.path, tensor: "controlnet_mid_block.weight")) {
            try ControlNetModel(config: config, source: source)
        }
    }

    @Test func refusesUnsupportedConfigs() throws {
        var config = ControlNetConfig()
        config.controlnetConditioningChannelOrder = "yuv"
        #expect(config.unsupportedFeature == "controlnet_conditioning_channel_order yuv")
        config = ControlNetConfig()
        config.midBlockType = "UNetMidBlock2D"
        #expect(config.unsupportedFeature == "mid_block_type UNetMidBlock2D")
        config = ControlNetConfig()
        (config.blockOutChannels, config.downBlockTypes) = ([], [])
        #expect(config.unsupportedFeature == "block_out_channels empty")
        config = ControlNetConfig()
        config.downBlockTypes[0] = "SimpleCrossAttnDownBlock2D"
        #expect(config.unsupportedFeature?.hasPrefix("down_block_types") == true)
    }
}
