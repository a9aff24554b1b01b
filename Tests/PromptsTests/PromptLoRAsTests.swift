import Testing
@testable import Prompts

/// A1111's `extra_networks.parse_prompt` on `<lora:...>` tags: `re_extra_net.sub("", prompt)` cuts
/// each tag out exactly, `te_multiplier = float(positional[1])` or 1.
@Suite struct PromptLoRAsTests {
    @Test func tagsAreCutOutAndTheirWeightsRead() throws {
        let found = try PromptLoRAs("a watercolor, <lora:detail:0.5>, (red scarf:1.2) <LyCO:style_v2> end")
        #expect(found.text == "a watercolor, , (red scarf:1.2)  end")
        #expect(found.loras == [.init(name: "detail", weight: 0.5), .init(name: "style_v2", weight: 1)])
    }

    @Test func otherNetworksAndPlainTextStay() throws {
        let found = try PromptLoRAs("a <b> c <hypernet:anime:1> <lora:x: -0.25 >")
        #expect(found.text == "a <b> c <hypernet:anime:1> ")
        #expect(found.loras == [.init(name: "x", weight: -0.25)])
        #expect(throws: PromptSyntaxError.self) { try WeightedPrompt(found.text) }
    }

    @Test(arguments: [
        ("a <lora:x:strong>", 2, "the weight 'strong' is not a number"),
        ("<lora:x:0.8:0.5>", 0, "separate text encoder and UNet weights"),
        ("<lora:x:te=0.8>", 0, "separate text encoder and UNet weights"),
        ("<lora::1>", 0, "names no LoRA"),
    ])
    func badTagsAreRefused(_ prompt: String, _ offset: Int, _ message: String) {
        expectPromptSyntaxError(at: offset, saying: message) { _ = try PromptLoRAs(prompt) }
    }
}
