import Foundation
import Testing
@testable import Recipes

private func parseUpscale(_ yaml: String) throws -> Recipe { try RecipeParsing.parse(yaml) }

private func upscaleIssues(_ yaml: String) -> [RecipeIssue] { RecipeParsing.issues(yaml) }

/// The SD x4 upscaler's keys on `upscale`: read with StableDiffusionUpscalePipeline's defaults.
@Test func upscaleReadsTheDiffusionUpscalerKeys() throws {
    let recipe = try parseUpscale("""
    edits:
      - upscale:
          model: models/x4-upscaler
          prompt: "a white cat"
          negative_prompt: blurry
          noise_level: 40
          steps: 20
          guidance: 6
          scheduler: euler_a
          tile: 128
          tile_overlap: 16
      - upscale: {model: ./x4}
    """)
    guard case .upscale(let upscale) = recipe.edits[0], case .upscale(let plain) = recipe.edits[1] else {
        Issue.record("two upscale edits expected")
        return
    }
    #expect(upscale.model == "/recipes/models/x4-upscaler")
    #expect(upscale.diffusion.prompt == "a white cat" && upscale.diffusion.negativePrompt == "blurry")
    #expect(upscale.diffusion.noiseLevel == 40 && upscale.diffusion.steps == 20 && upscale.diffusion.guidance == 6)
    #expect(upscale.diffusion.scheduler == .eulerAncestral)
    #expect(upscale.tile == 128 && upscale.tileOverlap == 16)
    // diffusers' defaults: num_inference_steps 75, guidance_scale 9.0, noise_level 20
    #expect(plain.diffusion.steps == 75 && plain.diffusion.guidance == 9 && plain.diffusion.noiseLevel == 20)
    #expect(plain.diffusion.prompt == "" && plain.diffusion.scheduler == nil)
}

@Test func upscaleDiffusionKeysAreValidatedWithLocations() {
    let found = upscaleIssues("""
    edits:
      - upscale:
          model: ./x4
          noise_level: -5
          steps: 0
          scheduler: eulr_a
          promt: "a cat"
    """)
    #expect(found.count == 4)
    #expect(found.contains { $0.line == 4 && $0.keyPath == "edits[0].upscale.noise_level" && $0.message.contains("out of range") })
    #expect(found.contains { $0.line == 5 && $0.keyPath == "edits[0].upscale.steps" })
    #expect(found.contains { $0.line == 6 && $0.message.contains("did you mean 'euler_a'") })
    #expect(found.contains { $0.line == 7 && $0.message.contains("unknown key 'promt'") && $0.message.contains("did you mean 'prompt'") })
}
