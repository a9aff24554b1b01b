import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing
@testable import Batch

/// One test's `overpaint run` set-up in a scratch folder of its own: the model, the input
/// folder, the recipes the test writes and the output folder `out/`, so that a test spells out
/// only what is its own (its recipe, its flags, what it checks). `remove()` deletes the folder.
struct RecipeRun {
    /// The scratch folder holding everything else.
    let folder: URL
    /// The model the commands name (see `modelNaming`), if any.
    var model: URL?
    /// What `--input` names.
    var input: URL
    /// How the commands name `model`.
    var modelNaming = ModelNaming.flag
    /// Further environment variables for every command, on top of the test process's.
    var environment: [String: String] = [:]

    /// What `--output` names: `out/` unless the test says otherwise.
    var output: URL

    /// A fresh scratch folder named after `test`, the input `in/` (not created), the output `out/`
    /// and no model.
    init(_ test: String = #function) throws {
        folder = try makeScratchFolder(test)
        input = folder.appendingPathComponent("in")
        output = folder.appendingPathComponent("out")
    }

    /// The tiny SD pipeline (with `unet`, a UNet fixture of pipelines/, in place of its own),
    /// named as `modelNaming` says, and the astronaut, with its mask where `withMask`, as the input.
    static func tinyPipeline(_ test: String = #function, unet: String? = nil, withMask: Bool = false,
                             modelNaming: ModelNaming = .flag) throws -> RecipeRun {
        var run = try RecipeRun(test)
        run.modelNaming = modelNaming
        run.model = try tinyPipelineFolder(in: run.folder, unet: unet)
        run.input = try astronautInput(in: run.folder, withMask: withMask)
        return run
    }

    /// The tiny SDXL pipeline (its 9-channel UNet where `inpainting`), named as `modelNaming`
    /// says, and the SDXL fixtures' astronaut, with its mask where `withMask`, as the input.
    static func tinySDXL(_ test: String = #function, inpainting: Bool = false, withMask: Bool = false,
                         modelNaming: ModelNaming = .flag) throws -> RecipeRun {
        var run = try RecipeRun(test)
        run.modelNaming = modelNaming
        run.model = try tinySDXLFolder(in: run.folder, inpainting: inpainting)
        run.input = try astronautInput(in: run.folder, withMask: withMask, area: "sdxl")
        return run
    }

    /// No model, and `names` as small photos with their masks (`photosWithMasks`) as the input.
    static func maskedPhotos(_ names: [String], _ test: String = #function) throws -> RecipeRun {
        var run = try RecipeRun(test)
        run.input = try photosWithMasks(names, in: run.folder)
        return run
    }

    /// This run with `--output` naming `path` in the scratch folder instead.
    func writing(to path: String) -> RecipeRun {
        var run = self
        run.output = folder.appendingPathComponent(path)
        return run
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }

    /// `text` written as `name` in the scratch folder.
    func file(_ text: String, named name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// `yaml` written as `name` in the scratch folder.
    func recipe(_ yaml: String, named name: String = "recipe.yaml") throws -> URL { try file(yaml, named: name) }

    /// A recipe (written as `name`) of the one edit `edit`, such as `img2img: {prompt: "a cat"}`,
    /// over every PNG of the input, with `seed` where given and each image's mask
    /// `masks/<stem>.png` where `withMasks`.
    func oneEditRecipe(_ edit: String, seed: Int? = nil, withMasks: Bool = false,
                       named name: String = "recipe.yaml") throws -> URL {
        let seedLine = seed.map { "seed: \($0)\n" } ?? ""
        let mask = withMasks ? #", mask: "masks/{stem}.png""# : ""
        return try recipe("""
            \(seedLine)match: {images: ["*.png"]\(mask)}
            edits:
              - \(edit)
            """, named: name)
    }

    enum ModelNaming {
        /// `--model <model>`.
        case flag
        /// This environment variable, which the recipe reads (the shipped recipes' `${OVERPAINT_MODEL}`).
        case environment(String)
        /// Not at all: the recipe names the model itself.
        case inRecipe
    }

    /// The model's command-line arguments and the commands' environment (nil: the test process's).
    private var modelArguments: (arguments: [String], environment: [String: String]?) {
        var variables = environment
        var arguments: [String] = []
        switch (model, modelNaming) {
        case let (model?, .flag): arguments = ["--model", model.path]
        case let (model?, .environment(name)): variables[name] = model.path
        default: break
        }
        guard !variables.isEmpty else { return (arguments, nil) }
        return (arguments, ProcessInfo.processInfo.environment.merging(variables) { _, set in set })
    }

    /// `overpaint run recipe --input <input> --output <output>`, the model named as `modelNaming`
    /// says, then `flags`.
    func run(_ recipe: URL, _ flags: [String] = [], stdin: URL? = nil) throws -> CommandResult {
        let (model, environment) = modelArguments
        return try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path] + model + flags,
                                environment: environment, stdin: stdin)
    }

    /// `run`, expecting exit status 0 (the failure names the run's stderr).
    @discardableResult
    func runSucceeding(_ recipe: URL, _ flags: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try run(recipe, flags)
        #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// `validate`, expecting exit status 0, then `runSucceeding`.
    @discardableResult
    func validateAndRunSucceeding(_ recipe: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        #expect(try validate(recipe).status == 0, sourceLocation: sourceLocation)
        return try runSucceeding(recipe, sourceLocation: sourceLocation)
    }

    /// `overpaint validate recipe`, the model named as for `run`.
    func validate(_ recipe: URL) throws -> CommandResult {
        let (model, environment) = modelArguments
        return try runOverpaint(["validate", recipe.path] + model, environment: environment)
    }

    /// The image the run wrote as `name` in the output folder.
    func outputImage(_ name: String = "astronaut.png") throws -> Image {
        try ImageFile.read(output.appendingPathComponent(name))
    }

    /// Expects the output `name` to have `reference`'s size, and a PSNR over 8-bit levels of at
    /// least 40 dB against it.
    func expectOutput(_ name: String = "astronaut.png", matches reference: Image,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ours = try outputImage(name)
        #expect(ours.width == reference.width && ours.height == reference.height, sourceLocation: sourceLocation)
        let psnr = ImageFidelity.psnr(ours, reference, eightBit: true)
        #expect(psnr >= 40, "\(name): PSNR \(psnr) dB", sourceLocation: sourceLocation)
    }

    /// The A1111 infotext (the `parameters` text chunk) of the output `name`; empty if it has none.
    func outputParameters(_ name: String = "astronaut.png") throws -> String {
        try ImageFile.readTextChunks(output.appendingPathComponent(name))["parameters"] ?? ""
    }

    /// Validates and runs the shipped recipe `recipe` (recipes/<recipe>.yaml), expects its output
    /// `name` to match `reference` as `expectOutput` does, and returns that output's infotext.
    func runShippedRecipe(_ recipe: String, expecting name: String, toMatch reference: Image,
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try validateAndRunSucceeding(Fixtures.recipe(recipe), sourceLocation: sourceLocation)
        try expectOutput(name, matches: reference, sourceLocation: sourceLocation)
        return try outputParameters(name)
    }

    /// The PNGs the run wrote at the top of the output folder.
    func outputPNGs() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: output.path).filter { $0.hasSuffix(".png") }
    }
}
