import Adapters
import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// LoRA on SDXL through the pipeline: sdxl-tiny with tools/reference/sdxl_lora_fixtures.py's
/// kohya-ss file (sgm UNet names, lora_te1_ / lora_te2_) fused at 0.8 and its PEFT file at 0.6,
/// against diffusers' StableDiffusionXLImg2ImgPipeline after `load_lora_weights(file)`,
/// `fuse_lora(lora_scale=weight)`, `unload_lora_weights()` per file (img2img_lora.png).
@Suite struct SDXLLoRATests {
    struct Reference: Decodable {
        struct File: Decodable { let path: String, weight: Float }
        let files: [File], prompt: String, strength: Double, num_inference_steps: Int, guidance_scale: Float, seed: UInt64
    }

    static func reference() throws -> Reference {
        struct Cases: Decodable { let img2img: Reference }
        return try Fixtures.decoded(Cases.self, "sdxl-lora", "cases.json").img2img
    }

    static func adapters(_ reference: Reference) throws -> [WeightedAdapter] {
        try reference.files.map { WeightedAdapter(file: try AdapterFile(url: Fixtures.url("sdxl-lora", $0.path)), weight: $0.weight) }
    }

    /// The folder, and sdxl-tiny's A1111 single file (bigG's q, k and v fused into in_proj) with its configs.
    @Test(arguments: [false, true])
    func fusedLoRAsGiveDiffusersImage(singleFile: Bool) throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let reference = try Self.reference()
        let folder = try tinySDXLFolder(in: scratch)
        let adapters = try Self.adapters(reference)
        let pipeline = singleFile
            ? try StableDiffusion(singleFile: Fixtures.url("singlefile", "sdxl-tiny.safetensors"), configFolder: folder, adapters: adapters)
            : try StableDiffusion(folder: folder, adapters: adapters)
        let options = GenerationOptions(prompt: reference.prompt, steps: reference.num_inference_steps,
                                        guidanceScale: reference.guidance_scale, strength: reference.strength, seed: reference.seed)
        let output = try pipeline.imageToImage(try SDXLFixtures.image("input.png"), options: options)
        let expected = try ImageFile.read(Fixtures.url("sdxl-lora", "img2img_lora.png"))
        let psnr = ImageFidelity.psnr(output, expected, eightBit: true)
        print("SDXL LoRA img2img (\(singleFile ? "single file" : "folder")): PSNR \(psnr) dB")
        #expect(psnr >= 40, "PSNR \(psnr) dB")
        // and the LoRAs matter: without them the image is another
        let plain = try StableDiffusion(folder: folder).imageToImage(try SDXLFixtures.image("input.png"), options: options)
        #expect(ImageFidelity.psnr(plain, expected, eightBit: true) < 35)
    }
}
