import Foundation
import Testing
@testable import Recipes

private let here = RecipeParsing.source

private func parse(_ yaml: String, environment: [String: String] = [:]) throws -> Recipe {
    try RecipeParsing.parse(yaml, environment: environment)
}

private func issues(_ yaml: String) -> [RecipeIssue] { RecipeParsing.issues(yaml) }

@Test func fullRecipeFromTheContractParses() throws {
    let recipe = try parse("""
    version: 1
    description: restyle
    model: models/sd15
    seed: 42
    match:
      images: ["*.png", "**/*.jpg"]
      mask: "masks/{stem}.png"
      control: "depth/{stem}.png"
      prompt: "{stem}.txt"
    output:
      path: "{dir}/{stem}-out.jpg"
      quality: 90
    edits:
      - img2img:
          prompt: "a watercolor painting"
          strength: 0.6
          steps: 30
          guidance: 7.5
          scheduler: ddim
          control:
            - type: canny
              model: /cn/canny
              scale: 0.8
              low: 50
              high: 150
            - type: depth
              model: /cn/depth
              source: file
      - inpaint: {prompt: "empty street", mask_blur: 0, area: masked, padding: 16, fill: latent_nothing}
      - edit: {source_prompt: "a cat", prompt: "a dog", steps: 50}
      - fill: {method: patchmatch}
      - upscale: {model: realesrgan-x4plus, scale: 2}
      - resize: {width: 512, height: 384, mode: fill}
      - canny: {low: 10, high: 20}
    """)
    #expect(recipe.model == "/recipes/models/sd15")
    #expect(recipe.seed == 42)
    #expect(recipe.match.images == ["*.png", "**/*.jpg"])
    #expect(recipe.edits.map(\.name) == ["img2img", "inpaint", "edit", "fill", "upscale", "resize", "canny"])
    guard case .img2img(let generation) = recipe.edits[0] else { Issue.record("first edit"); return }
    #expect(generation.strength == 0.6)
    #expect(generation.control.count == 2)
    #expect(generation.control[0].low == 50 && generation.control[0].scale == 0.8)
    #expect(generation.model == "/recipes/models/sd15")
    guard case .inpaint(let inpaint) = recipe.edits[1] else { Issue.record("second edit"); return }
    #expect(inpaint.area == .masked && inpaint.fill == .latentNothing && inpaint.maskBlur == 0)
    guard case .upscale(let upscale) = recipe.edits[4] else { Issue.record("upscale"); return }
    #expect(upscale.model == "realesrgan-x4plus")
    #expect(upscale.scale == 2)
    #expect(recipe.output.quality == 90)
    #expect(recipe.needsMask && recipe.needsControlFile)
}

/// Keys under the names A1111, ComfyUI or diffusers give them are pointed at ours.
@Test func otherToolsKeyNamesGetOurs() {
    let found = issues("""
    edits:
      - img2img:
          prompt: "a cat"
          cfg: 7
          denoising_strength: 0.5
          sampler_name: euler
          num_inference_steps: 20
    """)
    let messages = found.map(\.message)
    #expect(messages.contains("unknown key 'cfg' (ComfyUI's name; here it is 'guidance')"), "\(messages)")
    #expect(messages.contains { $0.contains("'denoising_strength' (A1111's name; here it is 'strength')") })
    #expect(messages.contains { $0.contains("here it is 'scheduler'") })
    #expect(messages.contains { $0.contains("(diffusers' name; here it is 'steps')") })
}

@Test func everyErrorIsReportedWithLineColumnAndKeyPath() {
    let found = issues("""
    version: 1
    matchh:
      images: ["*.png"]
    edits:
      - fill:
          method: teela
      - resize: {width: -3, height: 10}
      - canny: {low: "many"}
    """)
    #expect(found.count == 5)
    #expect(found.contains { $0.line == 2 && $0.message.contains("unknown key 'matchh'") && $0.message.contains("did you mean 'match'") })
    #expect(found.contains { $0.line == 6 && $0.keyPath == "edits[0].fill.method" && $0.message.contains("did you mean 'telea'") })
    #expect(found.contains { $0.line == 7 && $0.keyPath == "edits[1].resize.width" && $0.message.contains("out of range") })
    #expect(found.contains { $0.line == 8 && $0.keyPath == "edits[2].canny.low" && $0.message.contains("expected an integer") })
    #expect(found.contains { $0.keyPath == "edits[0].fill" && $0.message.contains("needs masks") })
}

@Test func generationWithoutAModelIsAnError() {
    let found = issues("""
    edits:
      - img2img: {prompt: "x"}
    """)
    #expect(found.count == 1)
    #expect(found[0].message.contains("needs a model"))
}

@Test func missingModelFileIsReported() {
    do {
        _ = try RecipeLoader(environment: [:]).parse("model: /nonexistent/sd\nedits:\n  - canny: {}\n", source: here)
        Issue.record("expected an error")
    } catch {
        #expect(error.localizedDescription.contains("/recipes/test.yaml:1:8: model: no model at /nonexistent/sd"))
    }
}

@Test func environmentVariablesExpandInPaths() throws {
    let recipe = try parse("model: ${MODELS}/sd15\nedits:\n  - canny: {}\n", environment: ["MODELS": "/opt/m"])
    #expect(recipe.model == "/opt/m/sd15")
    let found = issues("model: ${NOPE}/sd15\nedits:\n  - canny: {}\n")
    #expect(found.first?.message == "environment variable NOPE is not set")
}

@Test func yamlSyntaxErrorsAreLocated() {
    let found = issues("edits:\n  - fill: {method: telea\n")
    #expect(found.count == 1)
    #expect(found[0].line >= 2)
    #expect(found[0].message.hasPrefix("YAML syntax"))
}

@Test func unknownEditSuggestsTheNearestName() {
    let found = issues("edits:\n  - inpait: {prompt: x}\n")
    #expect(found.first?.message == "unknown edit 'inpait' (did you mean 'inpaint'?)")
    #expect(found.first?.line == 2)
}

@Test func templatesExpandEveryPlaceholder() throws {
    let template = try Template("{dir}/{stem}-{ext}/{name}")
    #expect(template.expand(forImageAt: "a/b/photo.v2.jpg") == "a/b/photo.v2-jpg/photo.v2.jpg")
    #expect(template.expand(forImageAt: "top.png") == "top-png/top.png")
    #expect(throws: TemplateError.unknownPlaceholder("size")) { try Template("{size}.png") }
    #expect(throws: TemplateError.unbalancedBrace) { try Template("{stem.png") }
}

@Test func outputFormatMustBeKnowable() {
    let found = issues("output: {path: \"{stem}.gif\"}\nedits:\n  - canny: {}\n")
    #expect(found.first?.keyPath == "output.path")
}

/// Phones' photos are matched by default; they are read, never written, so an output cannot be one.
@Test func heicAndAVIFAreMatchedByDefaultButNeverOutputs() throws {
    let defaults = try parse("edits:\n  - canny: {}\n").match.images
    #expect(["*.webp", "*.bmp", "*.heic", "*.heif", "*.avif"].allSatisfy(defaults.contains))
    #expect(try parse("match: {mask: \"m/{stem}.png\"}\nedits:\n  - canny: {}\n").match.images == defaults)
    for output in ["{path: \"{stem}.heic\"}", "{path: \"{stem}.avif\"}", "{path: \"{stem}.png\", format: heic}",
                   "{path: \"{stem}.png\", format: avif}"] {
        let found = issues("output: \(output)\nedits:\n  - canny: {}\n")
        #expect(found.count == 1 && found.first.map { ["output.path", "output.format"].contains($0.keyPath) } == true,
                "\(output): \(found)")
    }
}

/// Bitmaps are matched by default and read, never written: an output path asking for one is
/// refused where it is written, saying what to write instead.
@Test func bmpIsMatchedByDefaultButNeverAnOutput() throws {
    #expect(try parse("edits:\n  - canny: {}\n").match.images.contains("*.bmp"))
    let found = issues("output: {path: \"{stem}.bmp\"}\nedits:\n  - canny: {}\n")
    #expect(found.count == 1 && found.first?.keyPath == "output.path" && found.first?.line == 1, "\(found)")
    #expect(found.first?.message
        == "cannot tell the image format from '{stem}.bmp'; end it in .png, .jpg, .tiff or .webp or set output.format")
    #expect(issues("output: {path: \"{stem}.png\", format: bmp}\nedits:\n  - canny: {}\n").first?.keyPath == "output.format")
}

@Test func outputMetadataIsKeptUnlessStripped() throws {
    #expect(try parse("edits:\n  - canny: {}\n").output.metadata == .keep)
    #expect(try parse("output: {path: \"{stem}.jpg\", metadata: keep}\nedits:\n  - canny: {}\n").output.metadata == .keep)
    #expect(try parse("output: {path: \"{stem}.jpg\", metadata: strip}\nedits:\n  - canny: {}\n").output.metadata == .strip)
}

@Test func unknownOutputMetadataIsALocatedError() {
    let found = issues("output:\n  path: \"{stem}.jpg\"\n  metadata: strp\nedits:\n  - canny: {}\n")
    #expect(found.count == 1)
    #expect(found.first?.line == 3 && found.first?.keyPath == "output.metadata")
    #expect(found.first?.message == "'strp' is not one of keep, strip (did you mean 'strip'?)")
}
