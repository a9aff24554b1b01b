import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Weights

@Suite struct WeightStoreTests {
    @Test func shardedIndexServesTensorsFromEveryShard() throws {
        let folder = try makeScratchFolder()
        try SafeTensorsWriter.write(["a": Tensor(shape: [2], scalars: [1, 2])], to: folder.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensorsWriter.write(["b": Tensor(shape: [1], scalars: [3])], to: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        let store = try WeightStore(url: folder)
        #expect(store.keys == ["a", "b"])
        #expect(try store.tensor(named: "a").scalars == [1, 2])
        #expect(try store.tensor(named: "b").scalars == [3])
    }

    @Test func indexThatLiesAboutAShardIsAnError() throws {
        let folder = try makeScratchFolder()
        try SafeTensorsWriter.write(["a": Tensor(zeros: [1])], to: folder.appendingPathComponent("s1.safetensors"))
        try SafeTensorsWriter.write(["b": Tensor(zeros: [1])], to: folder.appendingPathComponent("s2.safetensors"))
        let index = #"{"weight_map":{"a":"s2.safetensors","b":"s2.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors.index.json"))
        #expect(throws: WeightsError.self) { try WeightStore(url: folder) }
    }

    @Test func aFolderWithOnlyPickleWeightsIsRefused() throws {
        let folder = try makeScratchFolder()
        try Data("not really".utf8).write(to: folder.appendingPathComponent("diffusion_pytorch_model.bin"))
        let error = #expect(throws: WeightsError.self) { try WeightStore(url: folder) }
        #expect(error?.errorDescription?.contains("convert it to .safetensors") == true)
    }
}

@Suite struct PickleGuardTests {
    @Test(arguments: ["model.ckpt", "model.pt", "model.pth", "pytorch_model.bin", "MODEL.CKPT"])
    func pickleExtensionsAreRefused(name: String) throws {
        let url = try makeScratchFolder().appendingPathComponent(name)
        try SafeTensorsWriter.write(["a": Tensor(zeros: [1])], to: url)  // even with safetensors content
        #expect(throws: WeightsError.pickleRefused(path: url.path)) { try ModelLocation.detect(url) }
        #expect(throws: WeightsError.pickleRefused(path: url.path)) { try SafeTensorsFile(url: url) }
    }

    @Test(arguments: [[0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0, 0, 0], [0x80, 0x02, 0x7D, 0x71, 0, 0x28, 0x58, 0, 0, 0]] as [[UInt8]])
    func pickleContentUnderASafetensorsNameIsRefused(magic: [UInt8]) throws {
        let url = try makeScratchFolder().appendingPathComponent("renamed.safetensors")
        try Data(magic + [UInt8](repeating: 0, count: 64)).write(to: url)
        #expect(throws: WeightsError.pickleRefused(path: url.path)) { try ModelLocation.detect(url) }
    }

    @Test func aSafetensorsHeaderLengthStartingWith0x80IsNotPickle() {
        // Header length 0x0280 = 640 bytes: bytes 80 02 00 .. then '{' at offset 8.
        #expect(!PickleGuard.looksLikePickle([0x80, 0x02, 0, 0, 0, 0, 0, 0, UInt8(ascii: "{")]))
    }
}

@Suite struct ModelLocationTests {
    @Test func recognisesADiffusersPipelineFolder() throws {
        let folder = try makeScratchFolder()
        let index = #"{"_class_name":"StableDiffusionPipeline","unet":["diffusers","UNet2DConditionModel"],"vae":["diffusers","AutoencoderKL"],"text_encoder":["transformers","CLIPTextModel"],"tokenizer":["transformers","CLIPTokenizer"],"scheduler":["diffusers","PNDMScheduler"],"safety_checker":[null,null]}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model_index.json"))
        for component in ["unet", "vae", "text_encoder", "tokenizer", "scheduler"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(component), withIntermediateDirectories: true)
        }
        try SafeTensorsWriter.write(["conv_in.weight": Tensor(zeros: [4, 9, 3, 3])],
                                    to: folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        guard case let .diffusersPipeline(pipeline) = try ModelLocation.detect(folder) else {
            Issue.record("not detected as a diffusers pipeline"); return
        }
        #expect(pipeline.pipelineClass == "StableDiffusionPipeline")
        #expect(Set(pipeline.components.keys) == ["unet", "vae", "text_encoder", "tokenizer", "scheduler"])
        #expect(try pipeline.weights(of: "unet").keys == ["conv_in.weight"])
        #expect(throws: WeightsError.self) { try pipeline.weights(of: "vae") }
        #expect(throws: WeightsError.self) { try pipeline.folder(of: "safety_checker") }
    }

    @Test func recognisesADiffusersControlNetFolder() throws {
        let folder = try makeScratchFolder()
        try Data(#"{"_class_name":"ControlNetModel","in_channels":4}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        guard case let .diffusersModel(_, className) = try ModelLocation.detect(folder) else {
            Issue.record("not detected as a diffusers model folder"); return
        }
        #expect(className == "ControlNetModel")
    }

    @Test func recognisesASingleFileCheckpoint() throws {
        guard case let .singleFile(checkpoint) = try ModelLocation.detect(Fixtures.url("weights", "ldm_sd1.safetensors")) else {
            Issue.record("not detected as a single file"); return
        }
        #expect(checkpoint.hasUNet)
    }

    @Test func refusesUnknownFoldersAndFiles() throws {
        let folder = try makeScratchFolder()
        #expect(throws: WeightsError.self) { try ModelLocation.detect(folder) }
        #expect(throws: WeightsError.fileNotFound(path: folder.appendingPathComponent("nope").path)) {
            try ModelLocation.detect(folder.appendingPathComponent("nope"))
        }
        let stray = folder.appendingPathComponent("stray.safetensors")
        try SafeTensorsWriter.write(["something.else": Tensor(zeros: [1])], to: stray)
        #expect(throws: WeightsError.self) { try ModelLocation.detect(stray) }
    }
}

/// Family rules of diffusers' `infer_diffusers_model_type`, on headers with the real SD shapes.
@Suite struct ModelFamilyTests {
    func family(_ shapes: [String: [Int]]) throws -> ModelFamily {
        let url = try makeScratchFolder().appendingPathComponent("f.safetensors")
        try SafeTensorsWriter.write(zeros(shapes), dtype: .f16, to: url)
        return try SingleFileCheckpoint(file: SafeTensorsFile(url: url)).family()
    }

    let attention = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
    let convIn = "model.diffusion_model.input_blocks.0.0.weight"

    @Test func sd1AndSd2AreToldApartByContextWidth() throws {
        #expect(try family([convIn: [320, 4, 3, 3], attention: [320, 768]]) == ModelFamily(generation: .sd1, kind: .textToImage, inputChannels: 4))
        #expect(try family([convIn: [320, 4, 3, 3], attention: [320, 1024]]).generation == .sd2)
    }

    @Test func inpaintingHasNineInputChannels() throws {
        let found = try family([convIn: [320, 9, 3, 3], attention: [320, 1024]])
        #expect(found.kind == .inpainting && found.generation == .sd2)
    }

    @Test func upscalerHasSevenInputChannelsAndAClassEmbedding() throws {
        let found = try family([convIn: [256, 7, 3, 3], attention: [256, 1024], "model.diffusion_model.label_emb.weight": [1000, 1024]])
        #expect(found.kind == .x4Upscaler)
        #expect(found.description == "SD x4 upscaler")
    }

    @Test func controlNetFilesAreControlNets() throws {
        let found = try family([
            "control_model.input_blocks.0.0.weight": [320, 4, 3, 3], "control_model.input_hint_block.0.weight": [16, 3, 3, 3],
            "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
        ])
        #expect(found == ModelFamily(generation: .sd1, kind: .controlNet, inputChannels: 4))
    }
}
