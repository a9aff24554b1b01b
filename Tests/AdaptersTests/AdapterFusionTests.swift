import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Adapters

/// Weights fused into the tiny pipeline of Tests/Fixtures/pipelines/sd-tiny, against the weights
/// diffusers fused from the same files (`load_lora_weights(file)`, `fuse_lora(lora_scale=weight)`,
/// `unload_lora_weights()` per file, in order) for the kohya, LoCon and PEFT cases, and against the
/// published LoHa / LoKr / DoRA formulas for the others (tools/reference/lora_fixtures.py).
@Suite struct AdapterFusionTests {
    static let cases = ["kohya_0.8", "locon_1.0", "peft_0.7", "stack_kohya_peft_locon", "loha_0.9", "lokr_1.1",
                        "dora_1.0", "dora_0.6"]

    struct Case {
        let adapters: [WeightedAdapter]
        /// "<component>.<key>" of every weight the reference changed.
        let changed: [String]
        let expected: SafeTensorsFile
    }

    static func load(_ name: String) throws -> Case {
        let spec = try #require(try Fixtures.json("lora", "cases.json")[name] as? [String: Any])
        let files = try #require(spec["files"] as? [[String: Any]])
        let adapters = try files.map { file in
            WeightedAdapter(file: try AdapterFile(url: Fixtures.url("lora", try #require(file["path"] as? String))),
                            weight: try #require((file["weight"] as? NSNumber)?.floatValue))
        }
        return Case(adapters: adapters, changed: try #require(spec["changed"] as? [String]),
                    expected: try SafeTensorsFile(url: Fixtures.url("lora", "\(name).safetensors")))
    }

    /// sd-tiny's UNet and text encoder as stored (f16), or widened to f32 so fused weights stay exact.
    static func baseComponents(widened: Bool) throws -> [AdapterComponent: any ParameterSource] {
        let folder = Fixtures.url("pipelines", "sd-tiny")
        let stores: [AdapterComponent: any ParameterSource] = [
            .unet: try WeightStore(url: folder.appendingPathComponent("unet")),
            .textEncoder: try WeightStore(url: folder.appendingPathComponent("text_encoder")),
        ]
        return widened ? stores.mapValues { FloatOnlySource(base: $0) } : stores
    }

    /// "<component>.<key>" of every fused weight (a component no adapter touches is passed through).
    static func fusedKeys(_ sources: [AdapterComponent: any ParameterSource]) -> [String] {
        sources.flatMap { component, source in
            ((source as? FusedParameterSource)?.fusedKeys ?? []).map { "\(component.rawValue).\($0)" }
        }.sorted()
    }

    @Test(arguments: cases)
    func fusedWeightsMatchTheReference(name: String) throws {
        let fixture = try Self.load(name)
        let fused = try AdapterFusion.fuse(fixture.adapters, into: Self.baseComponents(widened: true))
        #expect(Self.fusedKeys(fused) == fixture.changed, "\(name)")
        for qualified in fixture.changed {
            let (component, key) = try split(qualified)
            let found = try #require(fused[component]).tensor(named: key)
            let expected = try fixture.expected.tensor(named: qualified)
            let scale = expected.scalars.map(abs).max() ?? 1
            let error = maxAbsoluteError(found, expected)
            #expect(found.shape == expected.shape && error <= 2e-5 * scale, "\(name) \(qualified): max error \(error)")
        }
    }

    /// An f16 checkpoint's fused weights stay f16 (private copies rounded once); the weights no
    /// adapter touches are still read in place from the mapped file.
    @Test(arguments: ["kohya_0.8", "stack_kohya_peft_locon", "dora_0.6"])
    func halfWeightsStayHalf(name: String) throws {
        let fixture = try Self.load(name)
        let base = try Self.baseComponents(widened: false)
        let fused = try AdapterFusion.fuse(fixture.adapters, into: base)
        for qualified in fixture.changed {
            let (component, key) = try split(qualified)
            let half = try #require(try fused[component]?.halfTensor(named: key), "\(qualified) was widened")
            #expect(half.format == .f16)
            let expected = try fixture.expected.tensor(named: qualified)
            for (value, reference) in zip(half.floatTensor().scalars, expected.scalars) {
                #expect(abs(value - reference) <= abs(reference) * 0x1p-11 + 1e-7, "\(qualified)")
            }
        }
        let untouched = try #require(base[.unet]?.keys.first { !fixture.changed.contains("unet.\($0)") && $0.hasSuffix(".weight") })
        let mapped = try #require(try base[.unet]?.halfTensor(named: untouched))
        let passedThrough = try #require(try fused[.unet]?.halfTensor(named: untouched))
        #expect(passedThrough.floatTensor() == mapped.floatTensor())
    }

    /// A single-file (LDM layout) checkpoint's UNet, seen under diffusers names, takes the same LoRA
    /// to the same weights as the diffusers folder.
    @Test func aSingleFileCheckpointIsFusedAsItsFolder() throws {
        let fixture = try Self.load("locon_1.0")
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: Fixtures.url("singlefile", "sd-tiny-unet-vae.safetensors")))
        let fused = try AdapterFusion.fuse(fixture.adapters, into: [.unet: FloatOnlySource(base: checkpoint.unet())])
        #expect(Self.fusedKeys(fused) == fixture.changed)
        for qualified in fixture.changed {
            let (_, key) = try split(qualified)
            let found = try #require(fused[.unet]).tensor(named: key)
            let expected = try fixture.expected.tensor(named: qualified)
            let error = maxAbsoluteError(found, expected)
            #expect(error <= 2e-5 * (expected.scalars.map(abs).max() ?? 1), "\(qualified)")
        }
    }

    @Test func layoutsAndAlgorithmsAreRecognised() throws {
        let kohya = try AdapterFile(url: Fixtures.url("lora", "kohya.safetensors"))
        #expect(kohya.layout == .kohya && Set(kohya.modules.map(\.algorithm)) == [.lora])
        #expect(Set(kohya.modules.map(\.component)) == [.unet, .textEncoder])
        let peft = try AdapterFile(url: Fixtures.url("lora", "peft.safetensors"))
        #expect(peft.layout == .peft && peft.loraAlpha(for: .unet) == 8 && peft.loraAlpha(for: .textEncoder) == 8)
        #expect(try AdapterFile(url: Fixtures.url("lora", "loha.safetensors")).modules.allSatisfy { $0.algorithm == .loha })
        #expect(try AdapterFile(url: Fixtures.url("lora", "lokr.safetensors")).modules.allSatisfy { $0.algorithm == .lokr })
        #expect(try AdapterFile(url: Fixtures.url("lora", "dora.safetensors")).modules.allSatisfy(\.isDecomposed))
    }

    @Test func keysThatMatchNoModuleAreNamed() throws {
        let url = try write([
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight": Tensor(zeros: [2, 16]),
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight": Tensor(zeros: [16, 2]),
            "lora_unet_down_blocks_7_attentions_0_to_q.lora_down.weight": Tensor(zeros: [2, 16]),
            "lora_unet_down_blocks_7_attentions_0_to_q.lora_up.weight": Tensor(zeros: [16, 2]),
        ])
        let adapter = WeightedAdapter(file: try AdapterFile(url: url), weight: 1)
        #expect(throws: AdapterError.unmatchedKeys(path: url.path, keys: [
            "lora_unet_down_blocks_7_attentions_0_to_q.lora_down.weight",
            "lora_unet_down_blocks_7_attentions_0_to_q.lora_up.weight"], count: 2)) {
            try AdapterFusion.fuse([adapter], into: Self.baseComponents(widened: false))
        }
    }

    @Test func keysOfNoKnownLayoutAreNamed() throws {
        let url = try write(["model.diffusion_model.input_blocks.0.0.weight": Tensor(zeros: [1]),
                             "lora_unet_conv_in.lora_down.weight": Tensor(zeros: [1])])
        #expect(throws: AdapterError.unrecognizedKeys(path: url.path, keys: ["model.diffusion_model.input_blocks.0.0.weight"], count: 1)) {
            try AdapterFile(url: url)
        }
        let mixed = try write(["lora_unet_conv_in.lora_down.weight": Tensor(zeros: [1]),
                               "lora_unet_conv_in.hada_w1_a": Tensor(zeros: [1])])
        #expect(throws: AdapterError.self) { try AdapterFile(url: mixed) }
    }

    @Test func tuckerDecompositionIsRefused() throws {
        let name = "lora_unet_down_blocks_0_resnets_0_conv1"
        let url = try write(["\(name).lora_down.weight": Tensor(zeros: [2, 16, 1, 1]),
                             "\(name).lora_mid.weight": Tensor(zeros: [2, 2, 3, 3]),
                             "\(name).lora_up.weight": Tensor(zeros: [16, 2, 1, 1])])
        let adapter = WeightedAdapter(file: try AdapterFile(url: url), weight: 1)
        #expect(throws: AdapterError.unsupported(path: url.path, module: "down_blocks_0_resnets_0_conv1",
                                                 detail: "a Tucker-decomposed update (lora_mid.weight)")) {
            try AdapterFusion.fuse([adapter], into: Self.baseComponents(widened: false))
        }
    }

    @Test func aComponentTheModelLacksIsAnError() throws {
        let url = try write(["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": Tensor(zeros: [2, 16]),
                             "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": Tensor(zeros: [16, 2])])
        let adapter = WeightedAdapter(file: try AdapterFile(url: url), weight: 1)
        #expect(throws: AdapterError.missingComponent(path: url.path, component: "text_encoder_2")) {
            try AdapterFusion.fuse([adapter], into: Self.baseComponents(widened: false))
        }
    }

    @Test func anUpdateOfTheWrongShapeIsAnError() throws {
        let name = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
        let url = try write(["\(name).lora_down.weight": Tensor(zeros: [2, 15]), "\(name).lora_up.weight": Tensor(zeros: [16, 2])])
        let adapter = WeightedAdapter(file: try AdapterFile(url: url), weight: 1)
        #expect(throws: AdapterError.self) { try AdapterFusion.fuse([adapter], into: Self.baseComponents(widened: false)) }
    }

    private func write(_ tensors: [String: Tensor]) throws -> URL {
        let url = try makeScratchFolder().appendingPathComponent("adapter.safetensors")
        try SafeTensorsWriter.write(tensors, to: url)
        return url
    }

    private func split(_ qualified: String) throws -> (AdapterComponent, String) {
        let dot = try #require(qualified.firstIndex(of: "."))
        return (try #require(AdapterComponent(rawValue: String(qualified[..<dot]))), String(qualified[qualified.index(after: dot)...]))
    }
}
