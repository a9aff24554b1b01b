import Foundation
import Testing
@testable import Recipes
import Schedulers

/// `scheduler: lcm` / `tcd`, `clip_skip`, and prompts in A1111's syntax as `validate` reads them.
@Suite struct FewStepAndPromptRecipeTests {
    /// Recipes with a model, whose line numbers start at 2.
    func parse(_ yaml: String) throws -> Recipe { try RecipeParsing.parse("model: /models/sd\n" + yaml) }

    func issues(_ yaml: String) -> [RecipeIssue] { RecipeParsing.issues("model: /models/sd\n" + yaml) }

    func generations(_ yaml: String) throws -> [Edit.Generation] {
        try parse(yaml).edits.compactMap { edit in
            switch edit {
            case .img2img(let generation): generation
            case .inpaint(let inpaint): inpaint.generation
            case .edit(let inversion): inversion.generation
            default: nil
            }
        }
    }

    @Test func fewStepSchedulersByBothNames() throws {
        let found = try generations("""
        edits:
          - img2img: {prompt: x, scheduler: lcm, steps: 4, guidance: 1, strength: 1}
          - img2img: {prompt: x, scheduler: LCM}
          - img2img: {prompt: x, scheduler: TCD, steps: 4}
        """)
        #expect(found.map(\.scheduler) == [.lcm, .lcm, .tcd])
    }

    /// TCD's gamma defaults to 0.3 (its own default); any other scheduler's eta to 0.
    @Test func etaDefaultsToTheSchedulersOwn() throws {
        let found = try generations("""
        edits:
          - img2img: {prompt: x, scheduler: tcd, steps: 4}
          - img2img: {prompt: x, scheduler: tcd, steps: 4, eta: 0.6}
          - img2img: {prompt: x, scheduler: lcm, steps: 4}
          - img2img: {prompt: x}
        """)
        #expect(found.map(\.eta) == [0.3, 0.6, 0, 0])
    }

    @Test func distilledSchedulersTakeAtMostFiftySteps() {
        let found = issues("edits:\n  - img2img: {prompt: x, scheduler: lcm, steps: 60}")
        #expect(found.map(\.keyPath) == ["edits[0].img2img.steps"])
        #expect(found.first?.message.contains("LCM takes at most 50 steps") == true)
        #expect(issues("edits:\n  - img2img: {prompt: x, scheduler: tcd, steps: 50}").isEmpty)
    }

    /// A1111's meaning: 1 the last layer (diffusers skips none), 2 the penultimate (skips 1);
    /// top level for every generation edit, an edit's own overriding it.
    @Test func clipSkipAtTheTopAndPerEdit() throws {
        let found = try generations("""
        clip_skip: 2
        match: {images: ["*.png"], mask: "m/{stem}.png"}
        edits:
          - img2img: {prompt: x}
          - inpaint: {prompt: x, clip_skip: 1}
          - edit: {prompt: x, source_prompt: y, clip_skip: 3}
        """)
        #expect(found.map(\.clipSkip) == [2, 1, 3])
        #expect(found.map(\.skippedCLIPLayers) == [1, nil, 2])
        #expect(try generations("edits:\n  - img2img: {prompt: x}").first?.clipSkip == 1)
    }

    @Test func clipSkipOutOfRangeIsLocated() {
        let top = issues("clip_skip: 0\nedits:\n  - img2img: {prompt: x}")
        #expect(top.map(\.keyPath) == ["clip_skip"] && top.first?.line == 2)
        #expect(top.first?.message == "0 is out of range 1...12")
        #expect(issues("edits:\n  - img2img: {prompt: x, clip_skip: 13}").map(\.keyPath) == ["edits[0].img2img.clip_skip"])
    }

    /// The prompt is kept as written (the PNG parameters record it so); syntax that would not
    /// be applied is a located error at `validate`.
    @Test func promptsAreKeptAsWrittenAndCheckedForUnsupportedSyntax() throws {
        let written = #"a (red:1.3) [cat] BREAK \(x\)"#
        let found = try generations("edits:\n  - img2img: {prompt: '\(written)', negative_prompt: 'a AND b, 16:9'}")
        #expect(found.first?.prompt == written)
        #expect(found.first?.negativePrompt == "a AND b, 16:9")

        let refused = issues("""
        edits:
          - img2img: {prompt: "a [cat:dog:5]", negative_prompt: "<lora:x:1>"}
          - edit: {prompt: "a cat AND a dog", source_prompt: "[a|b]"}
        match: {prompt: "{stem}.txt"}
        """)
        #expect(refused.map(\.keyPath) == ["edits[0].img2img.prompt", "edits[0].img2img.negative_prompt",
                                           "edits[1].edit.source_prompt", "edits[1].edit.prompt"])
        #expect(refused.map(\.line) == [3, 3, 4, 4])
        #expect(refused[0].message.hasPrefix("character 3: '[cat:dog:5]' is A1111 prompt editing"))
        #expect(refused[1].message == "character 1: '<lora:x:1>': LoRA tags are read from prompts only (not negative or source prompts)")
        #expect(refused[2].message.contains("alternation"))
        #expect(refused[3].message.hasPrefix("character 7: 'AND' is A1111's composable diffusion"))
    }

    @Test func upscalerPromptsAreCheckedToo() {
        let found = issues("edits:\n  - upscale: {model: /models/x4, prompt: 'a [b:c:2]', negative_prompt: '[d|e]'}")
        #expect(found.map(\.keyPath) == ["edits[0].upscale.prompt", "edits[0].upscale.negative_prompt"])
    }
}
