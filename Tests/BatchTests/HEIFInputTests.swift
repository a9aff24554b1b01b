import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// `overpaint run` over a phone's folder: a HEIC (stored 64x48, irot to 48x64, EXIF Orientation 6,
/// ICC profile) and an AVIF, matched by the default globs and written as PNG, upright and with
/// the camera's metadata; a truncated HEIC beside them fails alone, in one line.
@Test func runReadsHEICAndAVIFPhotosAndWritesPNG() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in"), output = folder.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    let codecs = Fixtures.root.appendingPathComponent("codecs")
    try FileManager.default.copyItem(at: codecs.appendingPathComponent("heif_camera.heic"),
                                     to: input.appendingPathComponent("IMG_0001.HEIC"))
    try FileManager.default.copyItem(at: codecs.appendingPathComponent("avif_rgb.avif"),
                                     to: input.appendingPathComponent("IMG_0002.avif"))
    let heic = try Data(contentsOf: codecs.appendingPathComponent("heif_rgb.heic"))
    try heic.prefix(heic.count / 2).write(to: input.appendingPathComponent("IMG_0003.heic"))

    let result = try runRecipe("""
        output:
          path: "{stem}.png"
        edits:
          - resize: {width: 32, height: 32, mode: fit}
        """, input, output)
    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("2 done, 1 failed"), "\(result.stderr)")

    let camera = try ImageFile.readWithMetadata(output.appendingPathComponent("IMG_0001.png"))
    #expect(camera.image.width == 24 && camera.image.height == 32, "upright, then fitted")
    let fields = try #require(camera.metadata.exif.flatMap(ExifFields.init))
    #expect(fields.integer(0x0112) == 1 && fields.string(0x010F) == "Overpaint Test Camera")
    #expect(camera.metadata.iccProfile != nil)
    let avif = try ImageFile.read(output.appendingPathComponent("IMG_0002.png"))
    #expect(avif.width == 32 && avif.height == 24)

    let failed = try #require(try manifestLines(output).first { $0.input == "IMG_0003.heic" })
    #expect(failed.status == .failed)
    let reason = failed.error ?? ""
    #expect(reason.contains("IMG_0003.heic") && reason.contains("HEIF") && !reason.contains("\n"), "\(reason)")
}
