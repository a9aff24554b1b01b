import Foundation
import OverpaintTestSupport
import Testing
@testable import Batch
@testable import Recipes
import Schedulers

@Suite struct GenerationParametersTests {
    /// The cases of tools/reference/infotext_fixtures.py: each one's fields as GenerationParameters
    /// and the text A1111's `create_infotext` (with sd-webui-controlnet's unit serialisation)
    /// writes for them.
    static func cases() -> [[String: Any]] {
        (try? Fixtures.json("infotext", "cases.json"))?["cases"] as? [[String: Any]] ?? []
    }

    static var caseNames: [String] { cases().compactMap { $0["name"] as? String } }

    /// One fixture case's input as Overpaint's fields. The fixtures carry their own `Version`,
    /// which is Overpaint's with the fixture's version number.
    static func parameters(_ input: [String: Any]) -> GenerationParameters {
        var parameters = GenerationParameters(
            prompt: input["prompt"] as? String ?? "", negativePrompt: input["negative_prompt"] as? String ?? "",
            steps: input["steps"] as? Int ?? 0, sampler: input["sampler"] as? String ?? "",
            guidance: input["cfg_scale"] as? Double ?? 0, seed: UInt64(input["seed"] as? Int ?? 0),
            width: input["width"] as? Int ?? 0, height: input["height"] as? Int ?? 0,
            modelHash: input["model_hash"] as? String, modelName: input["model"] as? String,
            strength: input["denoising_strength"] as? Double, precision: input["precision"] as? String)
        parameters.usesInpaintingModel = input["inpainting_model"] as? Bool ?? false
        parameters.clipSkip = input["clip_skip"] as? Int ?? 1
        parameters.vaeHash = input["vae_hash"] as? String
        parameters.vaeName = input["vae"] as? String
        parameters.loraHashes = input["lora_hashes"] as? String
        parameters.embeddingHashes = input["ti_hashes"] as? String
        if let inpaint = input["inpaint"] as? [String: Any] {
            parameters.inpainting = .init(Edit.Inpaint(
                generation: .init(), maskBlur: inpaint["mask_blur"] as? Int ?? 0, maskGrow: 0,
                area: Edit.Inpaint.Area(rawValue: inpaint["area"] as? String ?? "") ?? .whole,
                padding: inpaint["padding"] as? Int ?? 0,
                fill: Edit.Inpaint.FillMode(rawValue: inpaint["fill"] as? String ?? "") ?? .original, resizeMask: false))
        }
        parameters.controlNets = (input["controlnets"] as? [[String: Any]] ?? []).map(controlNetUnit)
        if let refiner = input["refiner"] as? [String: Any] {
            parameters.refiner = .init(name: refiner["name"] as? String ?? "", hash: refiner["hash"] as? String,
                                       switchAt: refiner["switch_at"] as? Double ?? 0)
        }
        return parameters
    }

    static func controlNetUnit(_ unit: [String: Any]) -> GenerationParameters.ControlNetUnit {
        var control = Edit.Control(type: .canny, model: unit["model_name"] as? String ?? "", scale: unit["weight"] as? Double ?? 0,
                                   start: unit["guidance_start"] as? Double ?? 0, end: unit["guidance_end"] as? Double ?? 0,
                                   low: unit["threshold_a"] as? Int ?? 0, high: unit["threshold_b"] as? Int ?? 0,
                                   source: .file, depthModel: nil)
        switch unit["module"] as? String {
        case "none": control.type = .depth
        case "depth_anything": (control.type, control.source) = (.depth, .estimate)
        default: break
        }
        return .init(control, modelHash: unit["model_hash"] as? String ?? "", mapResolution: unit["processor_res"] as? Int ?? 0)
    }

    @Test func everyReferenceCaseIsThere() {
        #expect(Self.caseNames.count >= 20)
    }

    @Test(arguments: caseNames)
    func writesWhatA1111Writes(_ name: String) throws {
        let fixture = try #require(Self.cases().first { $0["name"] as? String == name })
        let input = try #require(fixture["input"] as? [String: Any])
        let expected = try #require(fixture["expected"] as? String)
        let version = try #require(input["version"] as? String)
        let ours = Self.parameters(input).text
            .replacingOccurrences(of: "Version: Overpaint \(BatchRunner.version)", with: "Version: \(version)")
        #expect(Array(ours.utf8) == Array(expected.utf8), "\(ours)\n\(expected)")
    }

    /// sd-parsers 0.6 (the reference script's record) takes each case for an AUTOMATIC1111 image,
    /// from the PNG text chunk and from the JPEG UserComment alike, with its sampler and seed.
    @Test(arguments: caseNames)
    func sdParsersReadsItAsA1111(_ name: String) throws {
        let fixture = try #require(Self.cases().first { $0["name"] as? String == name })
        let read = try #require(fixture["sd_parsers"] as? [String: [String: Any]])
        let input = try #require(fixture["input"] as? [String: Any])
        for format in ["png", "jpeg"] {
            let parsed = try #require(read[format])
            #expect(parsed["recognised"] as? String == "AUTOMATIC1111")
            let values = parsed["parameters"] as? [String: String]
            #expect(values?["seed"] == "\(input["seed"] as? Int ?? -1)")
            #expect(values?["steps"] == "\(input["steps"] as? Int ?? -1)")
        }
    }

    @Test func quoteWritesJSONStringsOnlyWhereNeeded() {
        #expect(GenerationParameters.quote("sd15") == "sd15")
        #expect(GenerationParameters.quote("a \"b\" \\ c") == "a \"b\" \\ c")
        #expect(GenerationParameters.quote("a, \"b\"\t\\ é\u{1}") == #""a, \"b\"\t\\ é\u0001""#)
    }

    @Test func checkpointFilesAreNamedWithoutTheirExtension() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("dream.v2.safetensors")
        try Data().write(to: file)
        let diffusers = folder.appendingPathComponent("sd-1.5")
        try FileManager.default.createDirectory(at: diffusers, withIntermediateDirectories: true)
        #expect(GenerationParameters.checkpointName(file.path) == "dream.v2")
        #expect(GenerationParameters.checkpointName(diffusers.path) == "sd-1.5")
    }

    @Test func bf16ImagesSayHowTheyWereComputed() {
        var parameters = Self.parameters(["prompt": "a lighthouse", "steps": 20, "sampler": "DDIM", "cfg_scale": 7.5,
                                          "model": "sd15", "denoising_strength": 0.5])
        parameters.precision = "bf16"
        #expect(parameters.text.hasSuffix("Model: sd15, Denoising strength: 0.5, Precision: bf16, Version: Overpaint \(BatchRunner.version)"))
        parameters.precision = nil
        #expect(!parameters.text.contains("Precision"))
    }

    /// The report reads quoted values back as A1111's `unquote` does.
    @Test func reportUnquotesWhatQuoteWrote() {
        var parameters = Self.parameters(["prompt": "a lighthouse", "steps": 20, "sampler": "DDIM", "cfg_scale": 7.5,
                                          "model": "dream, \"v2\": final\\x"])
        parameters.precision = nil
        let read = A1111Parameters(parameters.text)
        #expect(read.fields.first { $0.0 == "Model" }?.1 == "dream, \"v2\": final\\x")
    }
}
