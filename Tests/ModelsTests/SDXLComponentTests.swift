import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// Parity of SDXL's components with diffusers 0.42.1 / transformers 5.24 on the tiny random
/// SDXL pipeline written by tools/reference/sdxl_fixtures.py (weights f16-exact, everything
/// computed in f32); the reference lines are in `write_component_io`'s docstring there.
@Suite struct SDXLComponentTests {
    static let pipeline = Fixtures.url("sdxl", "sdxl-tiny")

    static func io() throws -> [String: Tensor] { try Fixtures.tensors("sdxl", "components.safetensors") }

    static func ids(_ tensor: Tensor?) -> [[Int]] {
        guard let tensor else { return [] }
        return tensor.scalars.map { Int($0) }.chunked(into: tensor.shape[1])
    }

    // ids_2 = tokenizer_2([PROMPT, ""], padding="max_length", max_length=77).input_ids
    @Test func tokenizer2PadsWithItsOwnToken() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let tokenizer = try CLIPTokenizer(folder: sdxlSecondTokenizerFolder(in: scratch))
        #expect(tokenizer.padTokenID == 0)
        let expected = Self.ids(try Self.io()["ids_2"])
        #expect([tokenizer.encode("an astronaut in a garden, oil painting"), tokenizer.encode("")] == expected)
    }

    // te_penultimate = text_encoder(ids, output_hidden_states=True).hidden_states[-2]
    @Test func textEncoderPenultimateStateMatchesTransformers() throws {
        let io = try Self.io()
        let encoder = try CLIPTextModel(folder: Self.pipeline.appendingPathComponent("text_encoder"))
        expectRelativeError(encoder.penultimateHiddenState(Self.ids(io["ids"])), try #require(io["te_penultimate"]))
    }

    // out_2 = text_encoder_2(ids_2, output_hidden_states=True): text_embeds, hidden_states[-2],
    // last_hidden_state (eos_token_id 2: pooled at the largest id, the end-of-text token)
    @Test func textEncoderWithProjectionMatchesTransformers() throws {
        let io = try Self.io()
        let encoder = try CLIPTextModelWithProjection(folder: Self.pipeline.appendingPathComponent("text_encoder_2"))
        #expect(encoder.config.hiddenAct == .gelu)
        let output = encoder(Self.ids(io["ids_2"]))
        expectRelativeError(output.textEmbeds, try #require(io["te2_text_embeds"]))
        expectRelativeError(output.lastHiddenState, try #require(io["te2_last_hidden_state"]))
        let penultimate = try #require(io["te2_penultimate"])
        expectRelativeError(output.hiddenStates[output.hiddenStates.count - 2], penultimate)
        expectRelativeError(encoder.textModel.penultimateHiddenState(Self.ids(io["ids_2"])), penultimate)
    }

    @Test func textEncoderWithProjectionRefusesAMissingProjection() throws {
        let folder = Self.pipeline.appendingPathComponent("text_encoder")
        let config = try CLIPTextConfig.load(from: folder.appendingPathComponent("config.json"))
        #expect(throws: ModelsError.self) {
            try CLIPTextModelWithProjection(config: config, source: WeightStore(url: folder))
        }
    }

    static func addedConditions(_ io: [String: Tensor]) throws -> AddedConditions {
        AddedConditions(textEmbeds: try #require(io["text_embeds"]), timeIds: try #require(io["time_ids"]))
    }

    // unet_output = unet(sample, t, states, added_cond_kwargs={text_embeds, time_ids}).sample
    @Test func unetWithTextTimeEmbeddingMatchesDiffusers() throws {
        let io = try Self.io()
        let unet = try UNet2DConditionModel(folder: Self.pipeline.appendingPathComponent("unet"))
        #expect(unet.addEmbedding?.inputWidth == 36)
        let output = unet(sample: try #require(io["sample"]), timestep: try #require(io["timestep"]).scalars[0],
                          encoderHiddenStates: try #require(io["encoder_hidden_states"]),
                          addedConditions: try Self.addedConditions(io))
        expectRelativeError(output, try #require(io["unet_output"]))
    }

    // down, mid = controlnet(sample, t, states, controlnet_cond, conditioning_scale=0.7, added_cond_kwargs=...)
    @Test func controlNetWithTextTimeEmbeddingMatchesDiffusers() throws {
        let io = try Self.io()
        let controlNet = try ControlNetModel(folder: Fixtures.url("sdxl", "controlnet"))
        let (down, mid) = controlNet(
            sample: try #require(io["sample"]), timestep: try #require(io["timestep"]).scalars[0],
            encoderHiddenStates: try #require(io["encoder_hidden_states"]),
            controlNetCond: try #require(io["controlnet_cond"]), conditioningScale: 0.7,
            addedConditions: try Self.addedConditions(io))
        #expect(down.count == 9)
        for (index, residual) in down.enumerated() {
            expectRelativeError(residual, try #require(io["controlnet_down_\(index)"]))
        }
        expectRelativeError(mid, try #require(io["controlnet_mid"]))
    }

    @Test func vaeReadsSDXLScalingAndUpcast() throws {
        let config = try AutoencoderKLConfig.load(from: Self.pipeline.appendingPathComponent("vae/config.json"))
        #expect(config.scalingFactor == 0.13025)
        #expect(config.forceUpcast)
    }

    @Test func textTimeNeedsItsWidths() throws {
        var config = UNet2DConditionConfig()
        config.additionEmbedType = "text_time"
        #expect(config.unsupportedFeature?.contains("addition_time_embed_dim") == true)
        config.additionTimeEmbedDim = 256
        config.projectionClassEmbeddingsInputDim = 2816
        #expect(config.unsupportedFeature == nil)
        config.additionEmbedType = "text"
        #expect(config.unsupportedFeature == "addition_embed_type text")
    }
}

private extension Array {
    func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0 ..< Swift.min(count, $0 + size)]) }
    }
}
