import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Adapters

/// LoRA on SDXL: weights fused into Tests/Fixtures/sdxl/sdxl-tiny's UNet and both text encoders,
/// against the weights diffusers fused from the same files (`load_lora_weights(file)`,
/// `fuse_lora(lora_scale=weight)`, `unload_lora_weights()` per file, in order;
/// tools/reference/sdxl_lora_fixtures.py): a kohya-ss SDXL file (sgm UNet names, lora_te1_ /
/// lora_te2_) and a diffusers / PEFT one (unet., text_encoder., text_encoder_2.).
@Suite struct SDXLAdapterFusionTests {
    static let cases = ["kohya_0.8", "peft_0.7", "stack_kohya_peft"]

    static func adapters(_ name: String) throws -> (adapters: [WeightedAdapter], changed: [String]) {
        let spec = try #require(try Fixtures.json("sdxl-lora", "cases.json")[name] as? [String: Any])
        let files = try #require(spec["files"] as? [[String: Any]])
        let adapters = try files.map { file in
            WeightedAdapter(file: try AdapterFile(url: Fixtures.url("sdxl-lora", try #require(file["path"] as? String))),
                            weight: try #require((file["weight"] as? NSNumber)?.floatValue))
        }
        return (adapters, try #require(spec["changed"] as? [String]))
    }

    /// sdxl-tiny's UNet and text encoders, widened to f32 so fused weights stay exact.
    static func folderComponents() throws -> [AdapterComponent: any ParameterSource] {
        let folder = Fixtures.url("sdxl", "sdxl-tiny")
        return try [AdapterComponent.unet: "unet", .textEncoder: "text_encoder", .textEncoder2: "text_encoder_2"].mapValues { name in
            FloatOnlySource(base: try WeightStore(url: folder.appendingPathComponent(name)))
        }
    }

    /// The same weights from sdxl-tiny's A1111 single file (sgm UNet names, bigG's q, k and v
    /// fused into in_proj), seen under diffusers names without `text_model.`.
    static func singleFileComponents() throws -> [AdapterComponent: any ParameterSource] {
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("singlefile", "sdxl-tiny.safetensors")))
        return [.unet: FloatOnlySource(base: try checkpoint.unet()), .textEncoder: FloatOnlySource(base: try checkpoint.textEncoder()),
                .textEncoder2: FloatOnlySource(base: try checkpoint.textEncoder2())]
    }

    @Test(arguments: cases)
    func fusedWeightsMatchDiffusers(name: String) throws {
        let (adapters, changed) = try Self.adapters(name)
        let fused = try AdapterFusion.fuse(adapters, into: Self.folderComponents())
        #expect(AdapterFusionTests.fusedKeys(fused) == changed, "\(name)")
        let expected = try SafeTensorsFile(url: Fixtures.url("sdxl-lora", "\(name).safetensors"))
        let worst = try Self.worstRelativeError(fused, expected: expected, changed: changed) { $0 }
        print("\(name): worst relative error \(worst)")
        #expect(worst <= 2e-5, "\(name)")
    }

    /// A single file takes the same files to the same weights; its bigG names lack `text_model.`.
    @Test(arguments: ["kohya_0.8", "peft_0.7"])
    func aSingleFileIsFusedAsItsFolder(name: String) throws {
        let (adapters, changed) = try Self.adapters(name)
        let fused = try AdapterFusion.fuse(adapters, into: Self.singleFileComponents())
        let legacy = "text_encoder_2.text_model."
        let renamed = changed.map { $0.hasPrefix(legacy) ? "text_encoder_2." + $0.dropFirst(legacy.count) : $0 }
        #expect(AdapterFusionTests.fusedKeys(fused) == renamed.sorted(), "\(name)")
        let expected = try SafeTensorsFile(url: Fixtures.url("sdxl-lora", "\(name).safetensors"))
        let worst = try Self.worstRelativeError(fused, expected: expected, changed: changed) { qualified in
            qualified.hasPrefix(legacy) ? "text_encoder_2." + qualified.dropFirst(legacy.count) : qualified
        }
        print("\(name) (single file): worst relative error \(worst)")
        #expect(worst <= 2e-5, "\(name)")
    }

    @Test func kohyaSDXLNamesAreSgms() throws {
        let kohya = try AdapterFile(url: Fixtures.url("sdxl-lora", "kohya.safetensors"))
        #expect(kohya.layout == .kohya && Set(kohya.modules.map(\.component)) == [.unet, .textEncoder, .textEncoder2])
        let names = Set(kohya.modules.filter { $0.component == .unet }.map(\.name))
        #expect(names.contains("input_blocks_4_1_transformer_blocks_0_attn2_to_k"))
        #expect(names.contains("middle_block_1_proj_in") && names.contains("output_blocks_2_2_conv"))
        #expect(!names.contains { $0.hasPrefix("down_blocks") })
    }

    /// The largest |fused - expected| / max |expected| over the changed weights; `local` names a
    /// reference weight in the fused components.
    static func worstRelativeError(_ fused: [AdapterComponent: any ParameterSource], expected: SafeTensorsFile,
                                   changed: [String], local: (String) -> String) throws -> Float {
        var worst: Float = 0
        for qualified in changed {
            let name = local(qualified)
            let dot = try #require(name.firstIndex(of: "."))
            let component = try #require(AdapterComponent(rawValue: String(name[..<dot])))
            let found = try #require(fused[component]).tensor(named: String(name[name.index(after: dot)...]))
            let reference = try expected.tensor(named: qualified)
            #expect(found.shape == reference.shape, "\(qualified)")
            let scale = reference.scalars.map(abs).max() ?? 1
            let error = maxAbsoluteError(found, reference)
            worst = max(worst, error / scale)
        }
        return worst
    }
}
