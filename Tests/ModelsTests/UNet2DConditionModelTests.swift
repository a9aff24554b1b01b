import Foundation
import OverpaintTestSupport
import Testing
@testable import Tensors
import Weights
@testable import Models

/// Parity with diffusers' UNet2DConditionModel on the tiny random UNets written by
/// tools/reference/unet_fixtures.py (weights f16-exact, everything computed in f32).
@Suite struct UNet2DConditionModelTests {
    static let fixtures = Fixtures.root.appendingPathComponent("unet")

    /// One variant's model and its reference inputs and outputs.
    struct Fixture {
        let model: UNet2DConditionModel
        let io: SafeTensorsFile

        init(_ variant: String) throws {
            let folder = UNet2DConditionModelTests.fixtures.appendingPathComponent(variant)
            model = try UNet2DConditionModel(folder: folder)
            io = try SafeTensorsFile(url: folder.appendingPathComponent("io.safetensors"))
        }

        func input(_ name: String) throws -> Tensor { try io.tensor(named: name) }

        var timestep: Float { get throws { try input("timestep").scalars[0] } }
    }

    // output = unet(sample, t, encoder_hidden_states=states).sample  (unet_fixtures.py, run())
    @Test(arguments: ["sd1", "sd2", "inpaint"])
    func matchesDiffusers(variant: String) throws {
        let fixture = try Fixture(variant)
        let output = fixture.model(sample: try fixture.input("sample"), timestep: try fixture.timestep,
                                   encoderHiddenStates: try fixture.input("encoder_hidden_states"))
        // Measured max relative error: sd1 6.1e-7, sd2 6.1e-7, inpaint 9.3e-7.
        #expect(maxErrorRelativeToPeak(output, try fixture.input("output")) < 1e-4)
    }

    // The same with every 3x3 convolution through Winograd's F(2x2, 3x3), which the sized rule
    // gives only bigger ones.
    @Test(arguments: ["sd1", "sd2", "inpaint"])
    func matchesDiffusersWithEveryConvolutionByWinograd(variant: String) throws {
        let fixture = try Fixture(variant)
        let output = try Winograd.withRule(.always) {
            fixture.model(sample: try fixture.input("sample"), timestep: try fixture.timestep,
                          encoderHiddenStates: try fixture.input("encoder_hidden_states"))
        }
        // Measured max relative error: sd1 6.2e-7, sd2 6.1e-7, inpaint 8.7e-7 (direct above: 6.1e-7, 6.1e-7, 9.3e-7).
        #expect(maxErrorRelativeToPeak(output, try fixture.input("output")) < 1e-4)
    }

    // output = unet(sample, t, states, class_labels=tensor([3, 11])).sample
    // (x4-upscaler features: class table, only_cross_attention [true, false], linear projections)
    @Test func upscalerFeaturesMatchDiffusers() throws {
        let fixture = try Fixture("upscale")
        #expect(fixture.model.classEmbedding?.shape == [12, 32])
        let firstBlock = try #require(fixture.model.downBlocks.first as? CrossAttnDownBlock2D)
        // attn1 reads the 16-wide text states, not the 8-wide image tokens.
        #expect(firstBlock.attentions[0].transformerBlocks[0].attn1.toKey.storedWeight.shape == [8, 16])
        let labels = try fixture.input("class_labels").scalars.map { Int($0) }
        let output = fixture.model(sample: try fixture.input("sample"), timestep: try fixture.timestep,
                                   encoderHiddenStates: try fixture.input("encoder_hidden_states"),
                                   classLabels: labels)
        // Measured: 7.4e-7.
        #expect(maxErrorRelativeToPeak(output, try fixture.input("output")) < 1e-4)
    }

    // output_odd = unet(sample_odd, t, encoder_hidden_states=states).sample  (7x5 latent)
    @Test func oddSizeUpsamplesToSkipSize() throws {
        let fixture = try Fixture("sd1")
        let output = fixture.model(sample: try fixture.input("sample_odd"), timestep: try fixture.timestep,
                                   encoderHiddenStates: try fixture.input("encoder_hidden_states"))
        #expect(output.shape == [2, 4, 7, 5])
        #expect(maxErrorRelativeToPeak(output, try fixture.input("output_odd")) < 1e-4)
    }

    // output_controlnet = unet(sample, t, states, down_block_additional_residuals=down,
    //                          mid_block_additional_residual=mid).sample
    @Test func controlNetResidualsMatchDiffusers() throws {
        let fixture = try Fixture("sd1")
        let down = try (0..<4).map { try fixture.input("down_residual_\($0)") }
        let output = fixture.model(sample: try fixture.input("sample"), timestep: try fixture.timestep,
                                   encoderHiddenStates: try fixture.input("encoder_hidden_states"),
                                   downBlockAdditionalResiduals: down,
                                   midBlockAdditionalResidual: try fixture.input("mid_residual"))
        let expected = try fixture.input("output_controlnet")
        // Measured: 4.8e-7.
        #expect(maxErrorRelativeToPeak(output, expected) < 1e-4)
        #expect(maxErrorRelativeToPeak(output, try fixture.input("output")) > 1e-2)
    }

    @Test func configReadsDiffusersKeys() throws {
        let url = Self.fixtures.appendingPathComponent("sd2/config.json")
        let config = try UNet2DConditionConfig.load(from: url)
        #expect(config.useLinearProjection)
        #expect(config.upcastAttention)
        #expect(config.attentionHeadDim == .perBlock([2, 4]))
        #expect(config.onlyCrossAttention == .shared(false))
        #expect(config.crossAttentionDim == .shared(16))
        #expect(config.blockOutChannels == [8, 16])
        #expect(config.normNumGroups == 4)
        #expect(config.unsupportedFeature == nil)
    }


    /// A config.json without keys means diffusers' defaults: the SD 1.5 UNet.
    @Test func missingKeysTakeDiffusersDefaults() throws {
        let config = try JSONDecoder().decode(UNet2DConditionConfig.self, from: Data("{}".utf8))
        #expect(config.blockOutChannels == [320, 640, 1280, 1280])
        #expect(config.attentionHeadDim == .shared(8))
        #expect(config.crossAttentionDim == .shared(1280))
        #expect(config.midBlockType == "UNetMidBlock2DCrossAttn")
        #expect(config.normNumGroups == 32 && config.flipSinToCos && config.freqShift == 0)
        let explicitNull = try JSONDecoder().decode(UNet2DConditionConfig.self,
                                                    from: Data(#"{"mid_block_type": null}"#.utf8))
        #expect(explicitNull.midBlockType == nil)
    }

    @Test func refusesUnsupportedConfigAndStrayTensors() throws {
        let folder = Self.fixtures.appendingPathComponent("sd1")
        var config = try UNet2DConditionConfig.load(from: folder.appendingPathComponent("config.json"))
        let weights = try WeightStore(url: folder)
        config.dualCrossAttention = true
        #expect(throws: ModelsError.unsupportedConfig(path: weights.path, detail: "dual_cross_attention")) {
            try UNet2DConditionModel(config: config, source: weights)
        }
        config.dualCrossAttention = false
        // A 9-channel config on 4-channel weights: conv_in's shape is checked.
        config.inChannels = 9
        #expect(throws: ModelsError.shapeMismatch(path: weights.path, tensor: "conv_in.weight",
                                                  expected: [8, 9, 3, 3], found: [8, 4, 3, 3])) {
            try UNet2DConditionModel(config: config, source: weights)
        }
        // A class table in the checkpoint that the config does not declare is an unused tensor.
        let upscaleFolder = Self.fixtures.appendingPathComponent("upscale")
        let upscale = try WeightStore(url: upscaleFolder)
        config = try UNet2DConditionConfig.load(from: upscaleFolder.appendingPathComponent("config.json"))
        config.numClassEmbeds = nil
        #expect(throws: ModelsError.unexpectedTensors(path: upscale.path, tensors: ["class_embedding.weight"],
                                                      count: 1)) {
            try UNet2DConditionModel(config: config, source: upscale)
        }
    }
}
