import Foundation
import OverpaintTestSupport
import Testing
@testable import Tensors
import Weights
@testable import Models

/// Parity with diffusers for a UNet with a guidance embedding (`time_cond_proj_dim` 8), the tiny
/// random `unet-lcm` of tools/reference/lcm_unet_fixtures.py, and for the pipelines'
/// `get_guidance_scale_embedding` that feeds it.
@Suite struct UNetGuidanceEmbeddingTests {
    static let model = Result { try UNet2DConditionModel(folder: Fixtures.url("pipelines", "unet-lcm")) }
    static let io = Result { try SafeTensorsFile(url: Fixtures.url("pipelines", "lcm_unet_io.safetensors")) }

    func tensor(_ name: String) throws -> Tensor { try Self.io.get().tensor(named: name) }

    func output(timestepCond: Tensor?) throws -> Tensor {
        try Self.model.get()(sample: tensor("sample"), timestep: tensor("timestep").scalars[0],
                             encoderHiddenStates: tensor("encoder_hidden_states"), timestepCond: timestepCond)
    }

    // output = unet(sample, t, states, timestep_cond=cond).sample
    @Test func timestepCondMatchesDiffusers() throws {
        #expect(try Self.model.get().timeEmbedding.conditionProjection?.storedWeight.shape == [16, 8])
        let output = try output(timestepCond: tensor("timestep_cond"))
        #expect(maxErrorRelativeToPeak(output, try tensor("output")) < 1e-4)
        // the condition matters: without it the output is another one
        #expect(maxErrorRelativeToPeak(output, try tensor("output_without_cond")) > 1e-2)
    }

    // output_without_cond = unet(sample, t, states).sample: cond_proj is skipped, as the
    // ControlNet pipelines run such a UNet
    @Test func noTimestepCondMatchesDiffusers() throws {
        #expect(maxErrorRelativeToPeak(try output(timestepCond: nil), try tensor("output_without_cond")) < 1e-4)
    }

    // get_guidance_scale_embedding(tensor([0.5, 7.0]), embedding_dim=8 and 9)
    @Test(arguments: [(8, "guidance_embedding"), (9, "guidance_embedding_odd")])
    func guidanceScaleEmbeddingMatchesDiffusers(channels: Int, name: String) throws {
        let embedding = guidanceScaleEmbedding([0.5, 7], channels: channels)
        #expect(embedding.shape == [2, channels])
        #expect(maxErrorRelativeToPeak(embedding, try tensor(name)) < 1e-6)
    }

    @Test func sdxlGuidanceEmbeddingIsRefused() {
        var config = UNet2DConditionConfig()
        config.timeCondProjDim = 256
        #expect(config.unsupportedFeature == nil)
        config.additionEmbedType = "text_time"
        config.additionTimeEmbedDim = 256
        config.projectionClassEmbeddingsInputDim = 2816
        #expect(config.unsupportedFeature == "time_cond_proj_dim (a guidance embedding) in an SDXL UNet")
    }
}
