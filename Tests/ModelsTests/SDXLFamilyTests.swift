import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// `models inspect` on SDXL (base, refiner, inpainting; diffusers folders and A1111 single files)
/// and its one-line refusal of SD3 and Flux. The single-file key names are those diffusers'
/// `infer_diffusers_model_type` reads (single_file_utils.py `CHECKPOINT_KEY_NAMES`).
@Suite struct SDXLFamilyTests {
    static func temporary(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sdxl-family-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.appendingPathComponent(name)
    }

    /// A safetensors file of small zero tensors with these names and shapes.
    static func singleFile(_ shapes: [String: [Int]]) throws -> URL {
        let url = try temporary("model.safetensors")
        try SafeTensorsWriter.write(shapes.mapValues { Tensor(zeros: $0) }, dtype: .f16, to: url)
        return url
    }

    static let unetKeys: [String: [Int]] = [
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": [640, 2048],
        "model.diffusion_model.label_emb.0.0.weight": [1280, 2816],
        "first_stage_model.decoder.conv_out.weight": [3, 128, 3, 3],
    ]

    @Test func sdxlPipelineFolderIsSDXL() throws {
        let report = try ModelInspector.inspect(Fixtures.url("sdxl", "sdxl-tiny"))
        #expect(report.family == .sdxl)
        #expect(report.familyBasis.hasPrefix("text_time added embeddings"))
        // the fixture stores no vocabulary of its own; tokenizer_2 holds only its settings
        #expect(report.missing == ["tokenizer"])
    }

    @Test func sdxlControlNetIsForSDXL() throws {
        let report = try ModelInspector.inspect(Fixtures.url("sdxl", "controlnet"))
        #expect(report.family == .controlNet)
        #expect(report.generation == .sdxl)
    }

    @Test func singleFileBaseRefinerAndInpaintingFromTheirKeys() throws {
        var base = Self.unetKeys
        base["model.diffusion_model.input_blocks.0.0.weight"] = [320, 4, 3, 3]
        base["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = [768]
        base["conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias"] = [1280]
        let baseReport = try ModelInspector.inspect(try Self.singleFile(base))
        #expect(baseReport.family == .sdxl)
        #expect(baseReport.familyBasis == "OpenCLIP bigG as conditioner.embedders.1, cross-attention width 2048")
        #expect(baseReport.components.map(\.name) == ["unet", "vae", "text_encoder", "text_encoder_2"])
        #expect(baseReport.missing.isEmpty)

        var inpainting = base
        inpainting["model.diffusion_model.input_blocks.0.0.weight"] = [320, 9, 3, 3]
        #expect(try ModelInspector.inspect(try Self.singleFile(inpainting)).family == .sdxlInpainting)

        var refiner = Self.unetKeys
        refiner["model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"] = [768, 1280]
        refiner["conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias"] = [1280]
        let refinerReport = try ModelInspector.inspect(try Self.singleFile(refiner))
        #expect(refinerReport.family == .sdxlRefiner)
        #expect(refinerReport.missing.isEmpty)
    }

    @Test func refinerPipelineHasNoFirstTextEncoder() throws {
        let folder = try Self.temporary("refiner")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let fixture = Fixtures.url("sdxl", "sdxl-tiny")
        for name in ["unet", "text_encoder_2", "vae", "scheduler"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let index = #"{"_class_name": "StableDiffusionXLImg2ImgPipeline", "unet": ["diffusers", "UNet2DConditionModel"], "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": [null, null], "tokenizer": [null, null]}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model_index.json"))
        let report = try ModelInspector.inspect(folder)
        #expect(report.family == .sdxlRefiner)
        #expect(report.missing == ["tokenizer_2"])
    }

    @Test(arguments: [
        ("model.diffusion_model.joint_blocks.0.context_block.adaLN_modulation.1.bias", "SD3"),
        ("double_blocks.0.img_attn.norm.key_norm.scale", "Flux"),
    ])
    func sd3AndFluxSingleFilesAreNamedInOneLine(marker: String, family: String) throws {
        let url = try Self.singleFile([marker: [4]])
        #expect(throws: ModelsError.unsupportedFamily(path: url.path, family: family)) {
            try ModelInspector.inspect(url)
        }
        let message = ModelsError.unsupportedFamily(path: url.path, family: family).errorDescription ?? ""
        #expect(message == "\(url.path): a \(family) model; \(family) is not supported yet (SD 1.x, SD 2.x and SDXL are)")
    }

    @Test func fluxPipelineFolderIsNamed() throws {
        let folder = try Self.temporary("flux")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("transformer"),
                                                withIntermediateDirectories: true)
        let index = #"{"_class_name": "FluxPipeline", "transformer": ["diffusers", "FluxTransformer2DModel"]}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model_index.json"))
        #expect(UnsupportedFamily.detect(at: folder) == .flux)
        #expect(throws: ModelsError.unsupportedFamily(path: folder.path, family: "Flux")) {
            try ModelInspector.inspect(folder)
        }
    }
}
