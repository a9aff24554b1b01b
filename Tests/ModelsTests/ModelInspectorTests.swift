import Foundation
import OverpaintTestSupport
import Testing
import Weights
@testable import Models

/// ModelInspector on the tiny fixtures. Expected parameter counts come from the reference:
/// `sum(p.numel() for p in Model.from_pretrained(folder).parameters())` for the diffusers and
/// transformers folders, and the shapes listed in Tests/Fixtures/weights/ldm_*.json for the
/// single files.
@Suite struct ModelInspectorTests {
    /// A diffusers pipeline folder assembled from the component fixtures, removed afterwards.
    final class TemporaryPipeline {
        let url: URL

        init(components: [String: (source: URL, className: String)], index extra: [String: Any] = [:]) throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("inspector-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            var index: [String: Any] = ["_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1"]
            for (name, component) in components {
                try FileManager.default.copyItem(at: component.source, to: url.appendingPathComponent(name))
                index[name] = ["diffusers", component.className]
            }
            index.merge(extra) { $1 }
            let data = try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys])
            try data.write(to: url.appendingPathComponent("model_index.json"))
        }

        func write(_ text: String, to path: String) throws {
            let file = url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }

        deinit { try? FileManager.default.removeItem(at: url) }
    }

    /// A copy of a fixture folder without its io.safetensors (a component folder as diffusers saves it).
    static func componentCopy(_ area: String, _ name: String) throws -> URL {
        let source = Fixtures.url(area, name)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("component-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: source.path) where file != "io.safetensors"
            && file != "block_io.safetensors" && file != "blocks.safetensors" && file != "vae_io.safetensors" {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file),
                                             to: copy.appendingPathComponent(file))
        }
        return copy
    }

    static func pipeline(unet: String = "sd1", withVAE: Bool = true) throws -> TemporaryPipeline {
        var components: [String: (source: URL, className: String)] = [
            "unet": (try componentCopy("unet", unet), "UNet2DConditionModel"),
            "text_encoder": (try componentCopy("clip-text", "quick_gelu"), "CLIPTextModel"),
            "tokenizer": (Fixtures.url("clip-tokenizer", ""), "CLIPTokenizer"),
        ]
        if withVAE { components["vae"] = (try componentCopy("vae", ""), "AutoencoderKL") }
        let pipeline = try TemporaryPipeline(components: components, index: [
            "safety_checker": [NSNull(), NSNull()], "scheduler": ["diffusers", "DDIMScheduler"],
        ])
        try pipeline.write(#"{"_class_name": "DDIMScheduler", "num_train_timesteps": 1000}"#,
                           to: "scheduler/scheduler_config.json")
        return pipeline
    }

    @Test func diffusersPipeline() throws {
        let pipeline = try Self.pipeline()
        let report = try ModelInspector.inspect(pipeline.url)
        #expect(report.layout == .diffusersPipeline)
        #expect(report.className == "StableDiffusionPipeline")
        // The tiny UNet's cross-attention width is 16; its 1x1-convolution projections say SD 1.x.
        #expect(report.family == .sd1)
        #expect(report.missing.isEmpty)
        #expect(report.components.map(\.name) == ["scheduler", "text_encoder", "tokenizer", "unet", "vae"])
        let byName = Dictionary(uniqueKeysWithValues: report.components.map { ($0.name, $0) })
        #expect(byName["unet"]?.parameterCount == 52004)
        #expect(byName["unet"]?.dtypes == ["F16"])
        #expect(byName["vae"]?.parameterCount == 43711)
        #expect(byName["text_encoder"]?.parameterCount == 48106)
        #expect(byName["tokenizer"]?.tensorCount == 0)
        #expect(byName["unet"]?.className == "UNet2DConditionModel")
        #expect(report.summary.contains("family:     SD1"))
        #expect(report.summary.contains("52,004 parameters"))
    }

    @Test func pipelineMissingAComponentAndSD2UNet() throws {
        let pipeline = try Self.pipeline(unet: "sd2", withVAE: false)
        let report = try ModelInspector.inspect(pipeline.url)
        // use_linear_projection: linear attention projections, as SD 2.x.
        #expect(report.family == .sd2)
        #expect(report.generation == .sd2)
        #expect(report.missing == ["vae"])
        #expect(report.summary.contains("missing:    vae"))
    }

    @Test func inpaintingUNetFolder() throws {
        let report = try ModelInspector.inspect(Fixtures.url("unet", "inpaint"))
        #expect(report.layout == .diffusersModel)
        #expect(report.family == .sd1Inpainting)
        #expect(report.className == "UNet2DConditionModel")
    }

    @Test func upscalerUNetFolder() throws {
        #expect(try ModelInspector.inspect(Fixtures.url("unet", "upscale")).family == .x4Upscaler)
    }

    @Test func controlNetFolder() throws {
        let report = try ModelInspector.inspect(Fixtures.url("controlnet", ""))
        #expect(report.family == .controlNet)
        #expect(report.generation == .sd1)
        #expect(report.className == "ControlNetModel")
        #expect(report.components.map(\.name) == ["controlnet"])
        #expect(report.summary.contains("family:     ControlNet for SD1"))
        #expect(report.components.first?.parameterCount == 29396)
        #expect(report.missing.isEmpty)
    }

    @Test func vaeFolderIsUnknownFamily() throws {
        let report = try ModelInspector.inspect(Fixtures.url("vae", ""))
        #expect(report.family == .unknown)
        #expect(report.className == "AutoencoderKL")
    }

    @Test func singleFileSD1() throws {
        let report = try ModelInspector.inspect(Fixtures.url("weights", "ldm_sd1.safetensors"))
        #expect(report.layout == .singleFile)
        #expect(report.family == .sd1)
        #expect(report.missing.isEmpty)
        let byName = Dictionary(uniqueKeysWithValues: report.components.map { ($0.name, $0) })
        #expect(byName["unet"]?.parameterCount == 90052)
        #expect(byName["vae"]?.parameterCount == 11827)
        // The file also holds the int64 position ids, a buffer: not in ldm_sd1.json, not counted.
        #expect(byName["text_encoder"]?.parameterCount == 2344)
        #expect(byName["text_encoder"]?.dtypes == ["F16", "I64"])
    }

    @Test func singleFileSD2() throws {
        let report = try ModelInspector.inspect(Fixtures.url("weights", "ldm_sd2.safetensors"))
        #expect(report.family == .sd2)
        #expect(report.components.first { $0.name == "unet" }?.parameterCount == 91588)
        #expect(report.components.first { $0.name == "unet" }?.dtypes == ["BF16"])
    }

    @Test func singleFileControlNet() throws {
        let report = try ModelInspector.inspect(Fixtures.url("weights", "ldm_controlnet.safetensors"))
        #expect(report.family == .controlNet)
        #expect(report.components.map(\.name) == ["controlnet"])
        #expect(report.components.first?.parameterCount == 27704)
        #expect(report.missing.isEmpty)
    }

    /// A 2 GiB checkpoint whose data is a hole in a sparse file: only the header is read.
    @Test func readsHeadersOnly() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("inspector-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        let elements = 1024 * 4 * 512 * 512
        var header = #"{"alphas_cumprod":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]},"#
        header += #""model.diffusion_model.conv_in.weight":{"dtype":"F16","shape":[1024,4,512,512],"data_offsets":[4000,"#
        header += "\(4000 + elements * 2)]}}"
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Data($0) }
        bytes.append(Data(header.utf8))
        try bytes.write(to: file)
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: UInt64(bytes.count + 4000 + elements * 2))
        try handle.close()
        let report = try ModelInspector.inspect(file)
        #expect(report.components.map(\.name) == ["unet", "other"])
        #expect(report.components.first?.parameterCount == elements)
        #expect(report.components.last?.parameterCount == 1000)
        #expect(report.components.last?.dtypes == ["F32"])
        #expect(report.components.first?.dtypes == ["F16"])
        #expect(report.missing == ["vae", "text_encoder"])
        // No cross-attention and no attention projections: nothing says SD 1.x or 2.x.
        #expect(report.family == .unknown)
    }

    @Test func refusesPickleAndMissingPaths() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("inspector-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.ckpt")
        try Data([0x80, 0x02, 0x7D]).write(to: checkpoint)
        #expect(throws: WeightsError.pickleRefused(path: checkpoint.path)) { try ModelInspector.inspect(checkpoint) }
        let missing = folder.appendingPathComponent("nothing.safetensors")
        #expect(throws: WeightsError.fileNotFound(path: missing.path)) { try ModelInspector.inspect(missing) }
        #expect(throws: WeightsError.self) { try ModelInspector.inspect(folder) }
    }

    @Test func jsonUsesSnakeCaseKeys() throws {
        let report = try ModelInspector.inspect(Fixtures.url("controlnet", ""))
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        #expect(object?["family"] as? String == "ControlNet")
        #expect(object?["family_basis"] != nil)
        let components = object?["components"] as? [[String: Any]]
        #expect(components?.first?["parameter_count"] as? Int == 29396)
    }
}
