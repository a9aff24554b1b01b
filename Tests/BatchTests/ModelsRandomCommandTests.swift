import Foundation
import Models
import OverpaintTestSupport
import Testing
import Weights

/// `overpaint models random`, run as users run it, on the smallest known architecture.
@Test func modelsRandomWritesAMarkedLoadableRealESRGAN() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("x4plus.safetensors")
    let result = try runOverpaint(["models", "random", "--like", "realesrgan-x4plus", "--out", file.path, "--seed", "3"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(RandomModel.note(at: file)?.contains("--like realesrgan-x4plus --seed 3") == true)
    let network = try loadSuperResolutionNetwork(at: file)
    #expect(network is RRDBNet && network.scale == 4)
    // 16,697,987 f16 parameters (basicsr RRDBNet x4plus) plus the header.
    let size = try #require(try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int)
    #expect(size > 2 * 16_697_987 && size < 2 * 16_697_987 + 100_000)

    let unknown = try runOverpaint(["models", "random", "--like", "sd3", "--out", folder.appendingPathComponent("x").path])
    #expect(unknown.status == 2)
}

/// `--like taesd`: diffusers' AutoencoderTiny with its defaults (2,445,063 parameters, as
/// `AutoencoderTiny()` counts them), a folder AutoencoderTiny loads.
@Test func modelsRandomWritesALoadableTinyAutoencoder() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("taesd")
    let result = try runOverpaint(["models", "random", "--like", "taesd", "--out", out.path])
    #expect(result.status == 0, "\(result.stderr)")
    let model = try AutoencoderTiny(folder: out)
    #expect(model.config == AutoencoderTinyConfig())
    let weights = try SafeTensorsFile(url: out.appendingPathComponent("diffusion_pytorch_model.safetensors"))
    let parameters = try weights.keys.map { try weights.shape(of: $0).reduce(1, *) }.reduce(0, +)
    #expect(parameters == 2_445_063)
    #expect(RandomModel.note(at: out)?.contains("--like taesd") == true)
}
