import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Adapters

/// The few-step LoRAs' layouts (LCM-LoRA, Hyper-SD, SDXL-Lightning; tools/reference/
/// fewstep_lora_fixtures.py): LCM-LoRA's kohya keys with diffusers module names, f16, an `.alpha`
/// unlike the rank, on every UNet module its training script targets (resnet convolutions and
/// shortcuts, time projections, samplers), and diffusers' pre-PEFT `.lora.down.weight` /
/// `.lora_linear_layer.down.weight` layout, on sd-tiny and sdxl-tiny, against the weights diffusers
/// fused from the same files.
@Suite struct FewStepAdapterFusionTests {
    static let cases = ["sd_lcm_1.0", "sd_diffusers_0.7", "sdxl_lcm_1.0", "sdxl_diffusers_0.9", "sdxl_stack_lcm_diffusers"]

    @Test(arguments: cases)
    func fusedWeightsMatchDiffusers(name: String) throws {
        let spec = try #require(try Fixtures.json("fewstep-lora", "cases.json")[name] as? [String: Any])
        let files = try #require(spec["files"] as? [[String: Any]])
        let adapters = try files.map { file in
            WeightedAdapter(file: try AdapterFile(url: Fixtures.url("fewstep-lora", try #require(file["path"] as? String))),
                            weight: try #require((file["weight"] as? NSNumber)?.floatValue))
        }
        let changed = try #require(spec["changed"] as? [String])
        let components = spec["model"] as? String == "sdxl"
            ? try SDXLAdapterFusionTests.folderComponents() : try AdapterFusionTests.baseComponents(widened: true)
        let fused = try AdapterFusion.fuse(adapters, into: components)
        #expect(AdapterFusionTests.fusedKeys(fused) == changed, "\(name)")
        let expected = try SafeTensorsFile(url: Fixtures.url("fewstep-lora", "\(name).safetensors"))
        let worst = try SDXLAdapterFusionTests.worstRelativeError(fused, expected: expected, changed: changed) { $0 }
        print("\(name): worst relative error \(worst)")
        #expect(worst <= 2e-5, "\(name)")
    }

    @Test func layoutsAreRecognised() throws {
        let lcm = try AdapterFile(url: Fixtures.url("fewstep-lora", "sd_lcm.safetensors"))
        #expect(lcm.layout == .kohya && Set(lcm.modules.map(\.component)) == [.unet])
        let names = Set(lcm.modules.map(\.name))
        for module in ["down_blocks_0_downsamplers_0_conv", "up_blocks_0_upsamplers_0_conv", "down_blocks_1_resnets_0_conv_shortcut",
                       "mid_block_resnets_0_time_emb_proj", "up_blocks_1_attentions_0_transformer_blocks_0_ff_net_0_proj"] {
            #expect(names.contains(module), "\(module)")
        }
        let old = try AdapterFile(url: Fixtures.url("fewstep-lora", "sdxl_diffusers.safetensors"))
        #expect(old.layout == .diffusers && Set(old.modules.map(\.component)) == [.unet, .textEncoder, .textEncoder2])
        #expect(old.modules.allSatisfy { $0.algorithm == .lora && $0.parts["alpha"] == nil })
        #expect(try AdapterReport(old).layout == "diffusers")
    }

    /// diffusers' attention-processor layout (0.14 to 0.20, `attn1.processor.to_q_lora.down.weight`)
    /// is not read: a one-line error names the file and the keys.
    @Test func attentionProcessorKeysAreNamed() throws {
        let url = try makeScratchFolder().appendingPathComponent("adapter.safetensors")
        let key = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight"
        try SafeTensorsWriter.write([key: Tensor(zeros: [2, 16])], to: url)
        #expect(throws: AdapterError.unrecognizedKeys(path: url.path, keys: [key], count: 1)) { try AdapterFile(url: url) }
        #expect(AdapterError.unrecognizedKeys(path: url.path, keys: [key], count: 1).errorDescription?.contains("\n") == false)
    }
}
