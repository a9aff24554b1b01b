import Testing
@testable import Batch
import Schedulers

@Suite struct GenerationParametersTests {
    private func parameters(precision: String?) -> GenerationParameters {
        GenerationParameters(prompt: "a lighthouse", negativePrompt: "", steps: 20, sampler: "DDIM", guidance: 7.5,
                             seed: 3, width: 512, height: 512, modelHash: nil, modelName: "sd15", strength: 0.5,
                             precision: precision)
    }

    @Test func bf16ImagesSayHowTheyWereComputed() {
        #expect(parameters(precision: "bf16").text.hasSuffix(
            "Model: sd15, Denoising strength: 0.5, Precision: bf16, Version: Overpaint \(BatchRunner.version)"))
    }

    @Test func f32ImagesKeepA1111sFieldsOnly() {
        #expect(!parameters(precision: nil).text.contains("Precision"))
    }

    /// As A1111: `Clip skip` after the denoising strength, unless it is 1; the prompts as
    /// written, syntax included; LCM by its A1111 name.
    @Test func clipSkipPromptSyntaxAndFewStepSamplers() {
        var weighted = parameters(precision: nil)
        weighted.prompt = "a (lighthouse:1.2) BREAK [fog]"
        weighted.negativePrompt = "(blurry:1.3)"
        weighted.sampler = GenerationParameters.sampler(.lcm, modelClassName: nil)
        weighted.clipSkip = 2
        let lines = weighted.text.split(separator: "\n")
        #expect(lines[0] == "a (lighthouse:1.2) BREAK [fog]")
        #expect(lines[1] == "Negative prompt: (blurry:1.3)")
        #expect(lines[2].hasPrefix("Steps: 20, Sampler: LCM, CFG scale: 7.5,"))
        #expect(lines[2].contains("Denoising strength: 0.5, Clip skip: 2, Version:"))
        #expect(!parameters(precision: nil).text.contains("Clip skip"))
    }
}
