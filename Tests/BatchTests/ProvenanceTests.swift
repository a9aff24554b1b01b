import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

private let composite = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"

/// The digital source type and creator tool of the provenance packet in the file at `url`.
private func provenance(of url: URL) throws -> (type: String?, tool: String?)? {
    guard let packet = try XMPReading.packet(inFileAt: url) else { return nil }
    let properties = try #require(XMPReading.properties(of: packet), "well-formed XMP")
    return (properties[ProvenancePacket.iptcExtensionNamespace + "DigitalSourceType"],
            properties[ProvenancePacket.xmpBasicNamespace + "CreatorTool"])
}

/// Each edit kind's term: generation and diffusion upscaling are edits with generative AI,
/// Real-ESRGAN an enhancement, the classical edits none; a mix takes the strongest.
@Test func eachEditKindGetsItsDigitalSourceType() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (model, upscaler) = (folder.appendingPathComponent("sd15"), folder.appendingPathComponent("sd-x4-upscaler"))
    for created in [model, upscaler] { try FileManager.default.createDirectory(at: created, withIntermediateDirectories: true) }
    let realESRGAN = folder.appendingPathComponent("realesrgan-x4plus.param")
    #expect(FileManager.default.createFile(atPath: realESRGAN.path, contents: Data()))
    let cases: [(edits: String, expected: DigitalSourceType?)] = [
        ("- img2img: {prompt: a watercolor}", .compositeWithTrainedAlgorithmicMedia),
        ("- inpaint: {prompt: a garden}", .compositeWithTrainedAlgorithmicMedia),
        ("- edit: {prompt: a cat, source_prompt: a dog}", .compositeWithTrainedAlgorithmicMedia),
        ("- upscale: {model: \(upscaler.path)}", .compositeWithTrainedAlgorithmicMedia),
        ("- upscale: {model: \(realESRGAN.path)}", .algorithmicallyEnhanced),
        ("- upscale: {model: \(realESRGAN.path)}\n  - img2img: {prompt: a watercolor}",
         .compositeWithTrainedAlgorithmicMedia),
        ("- fill: {method: telea}\n  - fill: {method: patchmatch}", nil),
        ("- resize: {width: 32, height: 32}\n  - canny: {}", nil),
    ]
    for (edits, expected) in cases {
        let yaml = "model: \(model.path)\nmatch: {images: [\"*.png\"], mask: \"masks/{stem}.png\"}\nedits:\n  \(edits)\n"
        let loaded = try recipe(yaml, in: folder)
        #expect(loaded.digitalSourceType == expected, "\(edits)")
        #expect(loaded.provenance(version: "9.9")?.creatorTool == expected.map { _ in "Overpaint 9.9" }, "\(edits)")
    }
}

/// restyle-fast.yaml's img2img through `overpaint run` with the tiny pipeline, written as a
/// JPEG with `metadata: strip`: the output is marked, stripping or not.
@Test func anImg2ImgOutputIsMarkedAsEditedWithGenerativeAI() throws {
    let run = try RecipeRun.tinyPipeline(modelNaming: .inRecipe)
    defer { run.remove() }
    let fast = try String(contentsOf: Fixtures.recipe("restyle-fast"), encoding: .utf8)
    let yaml = fast.replacingOccurrences(of: "${OVERPAINT_MODEL}", with: try #require(run.model).path)
        .replacingOccurrences(of: "path: \"{stem}-watercolor-fast.png\"", with: "path: \"{stem}.jpg\"\n  metadata: strip")
    try run.runSucceeding(try run.recipe(yaml))
    let mark = try #require(try provenance(of: run.output.appendingPathComponent("astronaut.jpg")))
    #expect(mark.type == composite)
    #expect(mark.tool == "Overpaint \(BatchRunner.version)")
}

/// A model-free removal (Telea fill) and a resize write no XMP at all.
@Test(arguments: ["png", "jpg"]) func aModelFreeRecipesOutputCarriesNoMark(_ ext: String) throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a"], in: folder)
    let output = folder.appendingPathComponent("out")
    let yaml = fillRecipe.replacingOccurrences(of: "{dir}/{stem}.png", with: "{stem}.\(ext)")
        + "\n  - resize: {width: 8, height: 8}\n"
    let result = try runRecipe(yaml, input, output)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try provenance(of: output.appendingPathComponent("a.\(ext)")) == nil)
}

/// Under `keep` (the default) a model-free recipe carries the photo's own XMP packet, unmarked
/// (no trained model took part); under `strip` nothing of it, and so no XMP at all.
@Test(arguments: ["keep", "strip"]) func aModelFreeRecipeCarriesTheInputsXMPUnderKeepOnly(_ metadata: String) throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("codecs/xmp_camera.jpg"),
                                     to: input.appendingPathComponent("lighthouse.jpg"))
    let output = folder.appendingPathComponent("out")
    let yaml = """
    output: {path: "{stem}.png", metadata: \(metadata)}
    edits:
      - resize: {width: 12, height: 16, mode: stretch}
    """
    let result = try runRecipe(yaml, input, output)
    #expect(result.status == 0, "\(result.stderr)")
    let packet = try XMPReading.packet(inFileAt: output.appendingPathComponent("lighthouse.png"))
    guard metadata == "keep" else {
        #expect(packet == nil)
        return
    }
    let values = try #require(packet.flatMap(XMPReading.values))
    #expect(values["http://purl.org/dc/elements/1.1/title"] == ["Le phare"])
    #expect(values[ProvenancePacket.xmpBasicNamespace + "CreatorTool"] == ["Adobe Photoshop Lightroom Classic 13.0"])
    #expect(values["http://ns.adobe.com/tiff/1.0/Orientation"] == ["1"], "the JPEG's pixels were turned on reading")
    #expect(values["http://ns.adobe.com/exif/1.0/PixelXDimension"] == ["12"])
}
