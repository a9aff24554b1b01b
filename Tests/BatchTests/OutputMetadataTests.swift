import Batch
import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

private func resizeRecipe(metadata: String) -> String {
    """
    match:
      images: ["*.jpg"]
    output:
      path: "{stem}.jpg"
      metadata: \(metadata)
    edits:
      - resize: {width: 24, height: 32}
    """
}

/// `overpaint run` on a camera JPEG (64x48 stored, Orientation 6, ICC profile, Make, GPS):
/// `keep` carries the camera's metadata to the output, `strip` only the parameters, and
/// changing the one for the other remakes outputs on `--resume`.
@Test func runKeepsOrStripsACameraJPEGsMetadata() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in"), output = folder.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    try ImageFile.write(testPhoto(width: 64, height: 48), to: input.appendingPathComponent("camera.jpg"), format: .jpeg,
                        metadata: CameraMetadata.metadata(orientation: 6, width: 64, height: 48))
    let written = output.appendingPathComponent("camera.jpg")

    let kept = try runRecipe(resizeRecipe(metadata: "keep"), input, output)
    #expect(kept.status == 0, "\(kept.stderr)")
    let keep = try ImageFile.readWithMetadata(written)
    #expect(keep.image.width == 24 && keep.image.height == 32, "upright, then resized")
    #expect(keep.metadata.iccProfile == CameraMetadata.iccProfile)
    let exif = try #require(keep.metadata.exif)
    let fields = try #require(ExifFields(exif))
    #expect(fields.string(0x010F) == CameraMetadata.make && fields.string(0x0110) == CameraMetadata.model)
    #expect(fields.integer(0x0112) == 1)
    #expect(fields.entry(0x0002, in: .gps) != nil)
    #expect(fields.integer(0xA002, in: .exif) == 24 && fields.integer(0xA003, in: .exif) == 32)
    let parameters = try #require(try manifestLines(output).last?.parameters)
    #expect(ExifUserComment.text(in: exif) == parameters)

    let stripped = try runRecipe(resizeRecipe(metadata: "strip"), input, output, ["--resume"])
    #expect(stripped.status == 0, "\(stripped.stderr)")
    #expect(stripped.stderr.contains("remaking camera.jpg: output metadata keep -> strip"), "\(stripped.stderr)")
    let strip = try ImageFile.readWithMetadata(written).metadata
    #expect(strip.iccProfile == nil)
    let strippedParameters = try #require(try manifestLines(output).last?.parameters)
    #expect(strip.exif == ExifUserComment.exif(strippedParameters), "A1111's UserComment block alone")
}
