import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Weights

/// Tiny diffusers models saved in the LDM single-file layout; the expected diffusers names, shapes and
/// value sums come from the models themselves, after diffusers' own `convert_ldm_*` functions turned
/// the LDM files back into them (tools/reference/weights_fixtures.py).
@Suite struct LDMKeyMapTests {
    static let checkpoints = ["ldm_sd1", "ldm_sd2", "ldm_controlnet"]

    @Test(arguments: checkpoints)
    func renamingGivesExactlyTheDiffusersKeysShapesAndValues(name: String) throws {
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("weights", "\(name).safetensors")))
        let components = try #require(try Fixtures.json("weights", "\(name).json")["components"] as? [String: [String: [String: Any]]])
        for (component, expected) in components {
            let source = try view(checkpoint, component)
            #expect(source.keys == expected.keys.sorted(), "\(name) \(component)")
            for (key, entry) in expected {
                let shape = try #require(entry["shape"] as? [Int])
                let sum = try #require(entry["sum"] as? Double)
                let tensor = try source.tensor(named: key)
                #expect(tensor.shape == shape, "\(name) \(key)")
                let found = tensor.scalars.reduce(0.0) { $0 + Double($1) }
                #expect(abs(found - sum) <= 1e-9 * max(1, abs(sum)), "\(name) \(key): sum \(found) vs \(sum)")
            }
        }
    }

    /// What a strict load checks before reading any data: exactly the diffusers names, with
    /// exactly their shapes, in the renamed headers.
    @Test(arguments: checkpoints)
    func renamedHeadersHoldExactlyTheDiffusersShapes(name: String) throws {
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("weights", "\(name).safetensors")))
        let components = try #require(try Fixtures.json("weights", "\(name).json")["components"] as? [String: [String: [String: Any]]])
        for (component, expected) in components {
            let shapes = try expected.mapValues { try #require($0["shape"] as? [Int]) }
            let source = try view(checkpoint, component)
            let found = try Dictionary(uniqueKeysWithValues: source.keys.map { ($0, try source.shape(of: $0)) })
            #expect(found == shapes, "\(name) \(component)")
        }
    }

    @Test func detectsWhichComponentsASingleFileHolds() throws {
        let sd1 = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("weights", "ldm_sd1.safetensors")))
        #expect(sd1.hasUNet && sd1.hasVAE && sd1.textEncoderLayout == .clip && sd1.controlNetPrefix == nil)
        let sd2 = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("weights", "ldm_sd2.safetensors")))
        #expect(sd2.textEncoderLayout == .openCLIP)
        let control = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("weights", "ldm_controlnet.safetensors")))
        #expect(!control.hasUNet && control.controlNetPrefix == "control_model.")
        #expect(try control.family().kind == .controlNet)
        #expect(throws: WeightsError.self) { try control.vae() }
    }

    @Test func infersLayersPerBlockFromTheFirstDownsampler() throws {
        let sd1 = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("weights", "ldm_sd1.safetensors")))
        let unet = RenamedParameterSource(sd1.file, include: { $0.hasPrefix("model.diffusion_model.") }) {
            .tensors([RenamedTensor(String($0.dropFirst("model.diffusion_model.".count)))])
        }
        // weights_fixtures.py: tiny_unet(layers_per_block=2); tiny_controlnet(layers_per_block=1)
        #expect(SingleFileCheckpoint.layersPerBlock(unet) == 2)
        let control = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("weights", "ldm_controlnet.safetensors")))
        #expect(SingleFileCheckpoint.layersPerBlock(RenamedParameterSource(control.file) {
            .tensors([RenamedTensor(String($0.dropFirst("control_model.".count)))])
        }) == 1)
    }

    @Test func bareControlNetFilesAreRecognised() throws {
        let control = try SafeTensorsFile(url: Fixtures.url("weights", "ldm_controlnet.safetensors"))
        let bare = try Dictionary(uniqueKeysWithValues: control.keys.map {
            (String($0.dropFirst("control_model.".count)), try control.tensor(named: $0))
        })
        let url = try makeScratchFolder().appendingPathComponent("bare.safetensors")
        try SafeTensorsWriter.write(bare, to: url)
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: url))
        #expect(checkpoint.controlNetPrefix == "")
        let expected = try #require(try Fixtures.json("weights", "ldm_controlnet.json")["components"] as? [String: [String: Any]])
        #expect(try checkpoint.controlNet().keys == (expected["controlnet"]?.keys.sorted() ?? []))
    }

    @Test func unknownKeysKeepTheirNamesSoStrictLoadingReportsThem() throws {
        #expect(LDMKeyMap.unet("input_blocks.1.7.weight", layersPerBlock: 2) == .unknown)
        #expect(LDMKeyMap.vae("encoder.mid.attn_2.q.weight", upBlockCount: 2) == .unknown)
        #expect(LDMKeyMap.openCLIP("transformer.resblocks.23.ln_1.weight") == .ignored)
        #expect(LDMKeyMap.clip("text_model.embeddings.position_ids") == .ignored)
    }

    private func view(_ checkpoint: SingleFileCheckpoint, _ component: String) throws -> RenamedParameterSource {
        switch component {
        case "unet": return try checkpoint.unet()
        case "vae": return try checkpoint.vae()
        case "text_encoder": return try checkpoint.textEncoder()
        case "controlnet": return try checkpoint.controlNet()
        default: throw WeightsError.unrecognizedLayout(path: component, detail: "unknown component in fixture")
        }
    }
}
