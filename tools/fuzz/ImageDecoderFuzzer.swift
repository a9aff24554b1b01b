import Foundation
import Imaging

// One decoder per binary: scripts/fuzz builds this file with -D FUZZ_PNG, FUZZ_JPEG, FUZZ_TIFF,
// FUZZ_WEBP, FUZZ_BMP or FUZZ_HEIF, and inputs of the other formats are left out of the corpus.
#if FUZZ_PNG
private let format = ImageFormat.png
private func isThisFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
}
#elseif FUZZ_JPEG
private let format = ImageFormat.jpeg
private func isThisFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { bytes.starts(with: [0xFF, 0xD8, 0xFF]) }
#elseif FUZZ_TIFF
private let format = ImageFormat.tiff
private func isThisFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    [[0x49, 0x49, 0x2A, 0x00], [0x4D, 0x4D, 0x00, 0x2A], [0x49, 0x49, 0x2B, 0x00], [0x4D, 0x4D, 0x00, 0x2B]]
        .contains { bytes.starts(with: $0) }
}
#elseif FUZZ_WEBP
private let format = ImageFormat.webp
/// "RIFF", a size, "WEBP".
private func isThisFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    bytes.count >= 12 && bytes.starts(with: Array("RIFF".utf8)) && Array(bytes[8..<12]) == Array("WEBP".utf8)
}
#elseif FUZZ_BMP
private let format = ImageFormat.bmp
/// What `ImageFormat(magic:)` takes for a bitmap: "BM" and a known info header size.
private func isThisFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { ImageFormat(magic: bytes) == .bmp }
#else
/// HEIC and AVIF alike: an ISO-BMFF file opening with its `ftyp` box (libheif reads both).
private let format = ImageFormat.heif
private func isThisFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    bytes.count >= 8 && Array(bytes[4..<8]) == Array("ftyp".utf8)
}
#endif

/// A header over one megapixel is refused, as `--max-megapixels 1` would: a valid large
/// header then costs no more than a megapixel of memory and time.
private let maxPixels = 1_000_000

/// WebP's quality 100 is its lossless mode; JPEG's is as lossy as any.
private let lossless = 100

private let reencoded = URL(fileURLWithPath: ScratchFile.url.path + ".\(format.rawValue)")

/// Decodes the input; an image that decodes must hold exactly its samples, all in 0...1,
/// and (PNG, TIFF, opaque WebP written lossless) come back unchanged from being written and
/// read again. The rewrite carries the file's EXIF and ICC profile, so libexif parses and
/// rewrites what the input holds; a write the metadata alone makes fail (an EXIF block too
/// large for a JPEG segment) must succeed without it; Exempi reads and rewrites the file's XMP
/// packet. HEIF and BMP are read only (they are not written), and lossless WebP may change
/// colours under full transparency, so only opaque WebP is compared.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImageDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard isThisFormat(bytes) else { return -1 }
    let url = ScratchFile.write(bytes)
    #if FUZZ_PNG
    _ = try? ImageFile.readTextChunks(url, maxPixels: maxPixels)
    #endif
    guard let (image, metadata) = try? ImageFile.readWithMetadata(url, maxPixels: maxPixels) else { return 0 }
    precondition(image.samples.count == image.width * image.height * image.channels)
    precondition(image.samples.allSatisfy { (0...1).contains($0) }, "a sample outside 0...1")
    guard format != .heif && format != .bmp else { return 0 }
    do {
        do {
            try ImageFile.write(image, to: reencoded, format: format, quality: lossless, text: [("parameters", "fuzz")],
                                metadata: metadata)
        } catch {
            try ImageFile.write(image, to: reencoded, format: format, quality: lossless)
        }
        let again = try ImageFile.read(reencoded, maxPixels: maxPixels)
        let comparable = format != .jpeg && !(format == .webp && image.hasAlpha)
        precondition(!comparable || again == image, "a lossless image changed when written and read again")
    } catch {
        preconditionFailure("a decoded image could not be written and read again: \(error)")
    }
    return 0
}
