import Foundation
import Testing
@testable import Recipes
import Schedulers

/// The generation keys of img2img, inpaint and edit: each value checked where it is read,
/// against the rule the pipeline needs, with one default per key.
@Suite struct GenerationRecipeTests {
    /// A recipe of one edit, with a model and masks.
    func recipe(_ edit: String) -> String {
        """
        model: /models/sd
        match: {images: ["*.png"], mask: "masks/{stem}.png"}
        edits:
          - \(edit)
        """
    }

    func parse(_ edit: String) throws -> Recipe { try RecipeParsing.parse(recipe(edit)) }

    func issues(_ edit: String) -> [RecipeIssue] { RecipeParsing.issues(recipe(edit)) }

    func generation(_ edit: String) throws -> Edit.Generation {
        switch try parse(edit).edits.first {
        case .img2img(let generation): return generation
        case .inpaint(let inpaint): return inpaint.generation
        case .edit(let inversion): return inversion.generation
        default: throw CocoaError(.fileReadCorruptFile)
        }
    }

    @Test func strengthZeroRunsNoStepAndIsRejected() {
        let found = issues(#"img2img: {prompt: "x", strength: 0}"#)
        #expect(found.count == 1)
        #expect(found.first?.line == 4 && found.first?.keyPath == "edits[0].img2img.strength")
        #expect(found.first?.message == "strength 0.0 with steps 30 runs no denoising step (needs strength >= 0.034)")
    }

    @Test func strengthTooSmallForItsStepsIsRejected() {
        let found = issues(#"inpaint: {prompt: "x", strength: 0.02, steps: 10}"#)
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "edits[0].inpaint.strength")
        #expect(found.first?.message == "strength 0.02 with steps 10 runs no denoising step (needs strength >= 0.1)")
        #expect(issues(#"img2img: {prompt: "x", strength: 0.1, steps: 10}"#).isEmpty)
    }

    /// The default strength 0.75 of a single step runs int(0.75) = 0 steps: reported at `steps`.
    @Test func defaultStrengthTooSmallIsReportedAtSteps() {
        let found = issues(#"img2img: {prompt: "x", steps: 1}"#)
        #expect(found.map(\.keyPath) == ["edits[0].img2img.steps"])
        #expect(found.first?.message.contains("strength 0.75 with steps 1 runs no denoising step") == true)
    }

    @Test func strengthOutOfRangeIsReportedOnce() {
        let found = issues(#"img2img: {prompt: "x", strength: 1.5, steps: 1}"#)
        #expect(found.count == 1)
        #expect(found.first?.message.contains("out of range") == true)
    }

    /// What a recipe that sets nothing runs with.
    @Test func defaults() throws {
        let img2img = try generation(#"img2img: {prompt: "x"}"#)
        #expect(img2img.strength == 0.75 && img2img.steps == 30 && img2img.guidance == 7.5)
        #expect(img2img.eta == 0 && img2img.scheduler == nil && img2img.negativePrompt == "")
        #expect(try generation(#"inpaint: {prompt: "x"}"#).strength == 1)
        #expect(try generation(#"edit: {prompt: "x", source_prompt: "y"}"#).strength == 1)
    }

    @Test func schedulersParseByRecipeAndA1111Names() throws {
        #expect(try generation(#"img2img: {prompt: "x", scheduler: dpmpp_2m_sde}"#).scheduler == .dpmpp2MSDE)
        #expect(try generation(#"img2img: {prompt: "x", scheduler: "DPM++ 2M SDE"}"#).scheduler == .dpmpp2MSDE)
        #expect(try generation(#"inpaint: {prompt: "x", scheduler: "euler a"}"#).scheduler == .eulerAncestral)
        #expect(try generation(#"img2img: {prompt: "x", scheduler: PLMS}"#).scheduler == .pndm)
        for name in SchedulerName.allCases {
            #expect(try generation(#"img2img: {prompt: "x", scheduler: "\#(name.rawValue)"}"#).scheduler == name)
            #expect(try generation(#"img2img: {prompt: "x", scheduler: "\#(name.displayName)"}"#).scheduler == name)
        }
    }

    @Test func unknownSchedulerListsTheNames() {
        let found = issues(#"img2img: {prompt: "x", scheduler: "DPM++ 2M Karas"}"#)
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "edits[0].img2img.scheduler")
        #expect(found.first?.message.contains("dpmpp_2m_sde") == true)
        #expect(found.first?.message.contains("did you mean 'DPM++ 2M Karras'") == true)
        #expect(!issues(#"img2img: {prompt: "x", scheduler: ddim_inverse}"#).isEmpty)
    }

    /// The edit pipeline always inverts and regenerates with DDIM over its whole schedule.
    @Test func editRejectsStrengthAndScheduler() {
        let found = issues(#"edit: {prompt: "x", source_prompt: "y", strength: 0.5, scheduler: euler}"#)
        #expect(found.map(\.keyPath).sorted() == ["edits[0].edit.scheduler", "edits[0].edit.strength"])
        #expect(found.allSatisfy { $0.message.contains("does not apply") })
    }

    @Test func controlWindowMustNotBeEmpty() {
        let found = issues(#"img2img: {prompt: "x", control: [{type: canny, model: /cn, start: 0.5, end: 0.5}]}"#)
        #expect(found.count == 1)
        #expect(found.first?.message == "start 0.5 is not before end 0.5")
    }

    @Test func maskedAreaSizeMustBeAMultipleOfEight() {
        let found = issues(#"inpaint: {prompt: "x", area: masked, width: 500, height: 256}"#)
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "edits[0].inpaint.width")
        #expect(found.first?.message.contains("not a multiple of 8") == true)
        #expect(found.first?.message.contains("496") == true)
    }

    @Test func negativeGuidanceAndEtaOutsideZeroToOneAreRejected() {
        let found = issues(#"img2img: {prompt: "x", guidance: -1, eta: 1.5}"#)
        #expect(found.map(\.keyPath).sorted() == ["edits[0].img2img.eta", "edits[0].img2img.guidance"])
    }
}
