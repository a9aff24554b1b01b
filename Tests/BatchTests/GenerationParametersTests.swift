import Testing
@testable import Batch

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
}
