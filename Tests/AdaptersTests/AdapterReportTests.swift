import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Adapters

/// `overpaint models inspect` on adapter files: format, ranks, targets, base family.
@Suite struct AdapterReportTests {
    @Test func theFixturesAreDescribed() throws {
        let kohya = try AdapterReport(AdapterFile(url: Fixtures.url("lora", "kohya.safetensors")))
        #expect(kohya.layout == "kohya" && kohya.formats == ["LoRA"] && kohya.ranks == [4])
        #expect(kohya.targets == ["unet": 48, "text_encoder": 12])
        #expect(try AdapterReport(AdapterFile(url: Fixtures.url("lora", "locon.safetensors"))).formats == ["LoCon", "LoRA"])
        #expect(try AdapterReport(AdapterFile(url: Fixtures.url("lora", "loha.safetensors"))).formats == ["LoHa"])
        let lokr = try AdapterReport(AdapterFile(url: Fixtures.url("lora", "lokr.safetensors")))
        #expect(lokr.formats == ["LoKr"] && lokr.ranks == [2])
        #expect(try AdapterReport(AdapterFile(url: Fixtures.url("lora", "dora.safetensors"))).formats == ["LoCon+DoRA", "LoRA+DoRA"])
    }

    /// SD 1.x's cross-attention reads CLIP's 768-wide states, SD 2.x's 1024; kohya's metadata wins.
    @Test(arguments: [(768, [String: String](), "SD1"), (1024, [:], "SD2"), (320, [:], "unknown"),
                      (768, ["ss_base_model_version": "sdxl_base_v1-0"], "SDXL")])
    func theBaseFamilyComesFromMetadataOrTheCrossAttentionWidth(width: Int, metadata: [String: String], family: String) throws {
        let name = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
        let url = try makeScratchFolder().appendingPathComponent("lora.safetensors")
        try SafeTensorsWriter.write(["\(name).lora_down.weight": Tensor(zeros: [4, width]),
                                     "\(name).lora_up.weight": Tensor(zeros: [320, 4])], metadata: metadata, to: url)
        #expect(try AdapterReport(AdapterFile(url: url)).baseFamily == family)
    }
}
