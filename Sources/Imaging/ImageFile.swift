import CCodecs
import FileAccess
import Foundation

/// Reads and writes PNG, JPEG, TIFF and WebP files through libpng, libjpeg-turbo, libtiff and
/// libwebp, reads HEIC / HEIF and AVIF files through libheif and BMP files through stb_image.
///
/// Reading picks the decoder from the file's magic bytes (never its extension), refuses
/// an image whose header claims more than `maxPixels` before allocating pixel memory, and
/// turns every failure (empty, truncated, corrupt, unsupported) into an `ImagingError`.
///
/// Decoded layouts: PNG 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA, palette (tRNS becomes
/// alpha), interlaced; JPEG baseline and progressive, gray and RGB, EXIF orientation
/// applied (CMYK/YCCK refused); TIFF 8/16-bit gray, gray+alpha, RGB, RGBA in strips,
/// anything else libtiff can render as 8-bit RGBA (palette, bilevel, YCbCr, tiles), first
/// page only; HEIF and AVIF the primary image, RGB or RGBA (gray as RGB), 8-bit, or 16-bit
/// samples for 10- and 12-bit images, irot / imir / clap applied; BMP 1/4/8-bit palette, 16-,
/// 24- and 32-bit, bottom-up or top-down, as RGB or (32-bit) RGBA, 8-bit (RLE and the rest
/// refused, see ccodecs_bmp.c). Samples are not
/// colour-managed: gamma and ICC profiles are not applied (a profile is carried to outputs as
/// it is, see `readWithMetadata` and `write`).
public enum ImageFile {
    /// Decodes the image at `url`, which must be a regular file (or a link to one).
    ///
    /// A header claiming more than `maxPixels` pixels is refused before anything grows
    /// with its size; an accepted image takes at most 1.5 times its decoded samples in
    /// memory while it decodes (plus a fixed allowance, see `CCODECS_MEMORY_SLACK`).
    public static func read(_ url: URL, maxPixels: Int = 100_000_000) throws -> Image {
        try readWithMetadata(url, maxPixels: maxPixels).image
    }

    /// `read`, with the file's EXIF and ICC profile (each dropped when over
    /// `CCODECS_METADATA_LIMIT`; TIFF's EXIF is not read, see `ccodecs_decoder_exif`) and its XMP
    /// packet (dropped when over `CCODECS_XMP_LIMIT`, see `ccodecs_decoder_xmp`).
    public static func readWithMetadata(_ url: URL, maxPixels: Int = 100_000_000) throws
        -> (image: Image, metadata: ImageMetadata) {
        let path = url.path
        let (descriptor, format) = try open(url)
        var message = messageBuffer()
        var info = ccodecs_info()
        var opened: OpaquePointer?
        let status = ccodecs_decoder_open(format.codec, descriptor, path, UInt64(max(maxPixels, 0)), &opened, &info,
                                          &message, capacity)
        guard status == CCODECS_OK, let decoder = opened else {
            throw decodeError(status, format: format, path: path, message: message, info: info, maxPixels: maxPixels)
        }
        defer { ccodecs_decoder_close(decoder) }
        try checkLayout(info, path: path)

        let width = Int(info.width), height = Int(info.height), channels = Int(info.channels)
        let (pixels, pixelsOverflow) = width.multipliedReportingOverflow(by: height)
        let (count, countOverflow) = pixels.multipliedReportingOverflow(by: channels)
        guard !pixelsOverflow, !countOverflow, count <= Int.max / MemoryLayout<Float>.stride else {
            throw ImagingError.tooLarge(path: path, width: width, height: height, limit: maxPixels)
        }
        let exif = bytes(ccodecs_decoder_exif, of: decoder)
        let orientation = format.turnsByEXIFOrientation ? exif.flatMap(ExifOrientation.parse) ?? 1 : 1
        var readStatus = CCODECS_OK
        let samples = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            readStatus = ccodecs_decoder_read(decoder, buffer.baseAddress, Int32(orientation), &message, capacity)
            initialized = readStatus == CCODECS_OK ? count : 0
        }
        guard readStatus == CCODECS_OK else {
            throw decodeError(readStatus, format: format, path: path, message: message, info: info, maxPixels: maxPixels)
        }
        let upright = orientation < 5 ? (width, height) : (height, width)
        let image = Image(width: upright.0, height: upright.1, channels: channels, bitDepth: Int(info.bit_depth),
                          samples: samples)
        let metadata = ImageMetadata(exif: exif, iccProfile: bytes(ccodecs_decoder_icc, of: decoder),
                                     xmp: bytes(ccodecs_decoder_xmp, of: decoder),
                                     orientationApplied: format.isOrientedByItsContainer || (format.readsUpright && exif != nil))
        return (image, metadata)
    }

    /// The PNG text chunks (tEXt, zTXt, iTXt) of the file at `url`, keyed by keyword; a
    /// keyword that appears twice keeps its last value. The rows are decoded to reach text
    /// after them, so `maxPixels` applies as it does to `read`.
    public static func readTextChunks(_ url: URL, maxPixels: Int = 100_000_000) throws -> [String: String] {
        let path = url.path
        let (descriptor, format) = try open(url)
        guard format == .png else {
            close(descriptor)
            throw ImagingError.unsupported(path: path, reason: "text chunks are read from PNG files only, not \(format.displayName)")
        }
        var message = messageBuffer()
        var list = ccodecs_text_list()
        let status = ccodecs_png_read_text(descriptor, UInt64(max(maxPixels, 0)), &list, &message, capacity)
        guard status == CCODECS_OK else {
            throw decodeError(status, format: format, path: path, message: message, info: ccodecs_info(), maxPixels: maxPixels)
        }
        defer { ccodecs_text_list_free(&list) }
        var chunks: [String: String] = [:]
        for index in 0..<Int(list.count) {
            let entry = list.entries[index]
            guard let key = latin1String(entry.key), let value = entry.value else { continue }
            chunks[key] = entry.utf8 != 0 ? String(cString: value) : latin1String(value)
        }
        return chunks
    }

    /// Encodes `image` to `url` as `format`, replacing any file there; a failed write
    /// removes what it had written. HEIF, AVIF and BMP are refused: they are read, not written.
    ///
    /// - `quality`: JPEG and WebP quality 1...100; WebP at 100 is lossless.
    /// - `bitDepth`: 8 or 16 for PNG and TIFF (default: the image's own); JPEG is always 8.
    /// - `text`: PNG text chunks, written before the image data as tEXt when the value is
    ///   Latin-1 and as iTXt (UTF-8) otherwise. JPEG and WebP carry the `parameters` entry
    ///   as EXIF UserComment, as A1111 does; TIFF files carry no text.
    /// - `metadata`: what the output carries over from its input. The ICC profile goes into
    ///   every format (when its colour space is the output's, see `ImageMetadata`); the
    ///   EXIF, rewritten for the output (`ccodecs_exif_rewrite`: `parameters` as its
    ///   UserComment, Orientation 1 where reading turned the pixels, the output's size, no
    ///   thumbnail), into PNG (eXIf, beside the text chunks), JPEG and WebP; not into TIFF.
    ///   The XMP packet, rewritten by Exempi with `provenance` marked in it (see `OutputXMP`),
    ///   into every format.
    /// - `provenance`: IPTC's DigitalSourceType and the CreatorTool, in the input's XMP packet
    ///   or, without one (or one Exempi does not read, or too large for a JPEG segment once
    ///   rewritten), as a packet of their own. XMP goes where each format keeps it: PNG's `iTXt`
    ///   chunk `XML:com.adobe.xmp` (uncompressed, as XMP part 3 says), JPEG's APP1 segment
    ///   `http://ns.adobe.com/xap/1.0/` after the Exif one, WebP's `XMP ` chunk (with the
    ///   VP8X XMP flag), TIFF's XMLPacket tag (700).
    /// Samples are stored as `round(v * 255)` or `round(v * 65535)`, clamped, so 8- and
    /// 16-bit images decoded by `read` are written back byte for byte. JPEG drops alpha.
    public static func write(_ image: Image, to url: URL, format: ImageFormat, quality: Int = 95,
                             bitDepth: Int? = nil, text: [(key: String, value: String)] = [],
                             metadata: ImageMetadata = .none, provenance: ProvenancePacket? = nil) throws {
        let path = url.path
        let depth = format == .jpeg || format == .webp ? 8 : (bitDepth ?? image.bitDepth)
        guard depth == 8 || depth == 16 else {
            throw ImagingError.writeFailed(path: path, reason: "bit depth \(depth) is not 8 or 16")
        }
        guard (1...100).contains(quality) else {
            throw ImagingError.writeFailed(path: path, reason: "JPEG quality \(quality) is outside 1...100")
        }
        guard image.width > 0, image.height > 0, (1...4).contains(image.channels) else {
            throw ImagingError.writeFailed(
                path: path, reason: "cannot encode a \(image.width)x\(image.height) image with \(image.channels) channels")
        }
        var message = messageBuffer()
        let parameters = parameters(text)
        let xmp = OutputXMP.packet(input: metadata.xmp, provenance: provenance,
                                   orientationReset: metadata.orientationApplied, width: image.width,
                                   height: image.height,
                                   capacity: format == .jpeg ? Int(CCODECS_JPEG_XMP_CAPACITY) : nil)
        let inputEXIF = try rewrittenEXIF(metadata, width: image.width, height: image.height, parameters: parameters,
                                          path: path)
        let status: ccodecs_status
        switch format {
        case .png:
            let chunks = try encodeTexts(text, path: path)
            let icc = metadata.iccProfile(forColorChannels: image.colorChannels)
            status = withTextArray(chunks) { texts in
                withMetadata(exif: inputEXIF, icc: icc, xmp: xmp) { blocks in
                    withSamples(image, depth: depth, channels: image.channels) { pixels in
                        ccodecs_png_write(path, pixels, Int32(image.width), Int32(image.height), Int32(image.channels),
                                          Int32(depth), texts.baseAddress, Int32(texts.count), blocks, &message, capacity)
                    }
                }
            }
        case .jpeg:
            let exif = inputEXIF ?? ExifUserComment.exif(parameters)
            let icc = metadata.iccProfile(forColorChannels: image.colorChannels)
            status = withMetadata(exif: exif, icc: icc, xmp: xmp) { blocks in
                withSamples(image, depth: 8, channels: image.colorChannels) { pixels in
                    ccodecs_jpeg_write(path, pixels.assumingMemoryBound(to: UInt8.self), Int32(image.width),
                                       Int32(image.height), Int32(image.colorChannels), Int32(quality),
                                       blocks, &message, capacity)
                }
            }
        case .webp:
            let exif = inputEXIF ?? ExifUserComment.exif(parameters)
            let color = image.expandingGrayToRGB()
            let icc = metadata.iccProfile(forColorChannels: color.colorChannels)
            status = withMetadata(exif: exif, icc: icc, xmp: xmp) { blocks in
                withSamples(color, depth: 8, channels: color.channels) { pixels in
                    ccodecs_webp_write(path, pixels.assumingMemoryBound(to: UInt8.self), Int32(color.width),
                                       Int32(color.height), Int32(color.channels), Int32(quality),
                                       quality == 100 ? 1 : 0, blocks, &message, capacity)
                }
            }
        case .tiff:
            let icc = metadata.iccProfile(forColorChannels: image.colorChannels)
            status = withMetadata(exif: nil, icc: icc, xmp: xmp) { blocks in
                withSamples(image, depth: depth, channels: image.channels) { pixels in
                    ccodecs_tiff_write(path, pixels, Int32(image.width), Int32(image.height), Int32(image.channels),
                                       Int32(depth), blocks, &message, capacity)
                }
            }
        case .heif, .avif, .bmp:
            throw ImagingError.writeFailed(
                path: path, reason: "\(format.displayName) images are read, not written (write PNG, JPEG, TIFF or WebP)")
        }
        guard status == CCODECS_OK else {
            if status != CCODECS_ERROR_IO { try? FileManager.default.removeItem(at: url) }
            throw ImagingError.writeFailed(path: path, reason: "\(format.displayName) encoder: \(string(message))")
        }
    }

    // MARK: - Decoding helpers

    private static let capacity = Int(CCODECS_MESSAGE_CAPACITY)

    private static func messageBuffer() -> [CChar] {
        [CChar](repeating: 0, count: capacity)
    }

    private static func string(_ message: [CChar]) -> String {
        message.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { String(cString: $0) } ?? ""
        }
    }

    /// A descriptor for the regular file at `url` (the caller closes it), and its format.
    private static func open(_ url: URL) throws -> (Int32, ImageFormat) {
        let descriptor: Int32
        do {
            descriptor = try RegularFile.open(url.path)
        } catch {
            throw ImagingError.unreadable(path: url.path, reason: error.reason)
        }
        do {
            return (descriptor, try ImageFormat.sniff(descriptor, url: url))
        } catch {
            close(descriptor)
            throw error
        }
    }

    private static func decodeError(_ status: ccodecs_status, format: ImageFormat, path: String,
                                    message: [CChar], info: ccodecs_info, maxPixels: Int) -> ImagingError {
        // libtiff prefixes its messages with the file name, which the error already names.
        let detail = string(message).replacingOccurrences(of: "\(path): ", with: "")
        switch status {
        case CCODECS_ERROR_TOO_LARGE:
            return .tooLarge(path: path, width: Int(info.width), height: Int(info.height), limit: maxPixels)
        case CCODECS_ERROR_UNSUPPORTED:
            return .unsupported(path: path, reason: detail)
        case CCODECS_ERROR_IO:
            return .unreadable(path: path, reason: detail)
        default:
            return .unreadable(path: path, reason: "corrupt or truncated \(format.displayName) data (\(detail))")
        }
    }

    private static func checkLayout(_ info: ccodecs_info, path: String) throws {
        let width = Int(info.width), height = Int(info.height)
        guard width > 0, height > 0 else {
            throw ImagingError.unreadable(path: path, reason: "image has no pixels (\(width)x\(height))")
        }
        guard (1...4).contains(info.channels), info.bit_depth == 8 || info.bit_depth == 16 else {
            throw ImagingError.unsupported(
                path: path, reason: "\(info.channels) channels of \(info.bit_depth)-bit samples")
        }
    }

    /// A copy of the metadata block `accessor` finds in the decoder, or nil when there is none.
    private static func bytes(_ accessor: (OpaquePointer, UnsafeMutablePointer<Int>) -> UnsafePointer<UInt8>?,
                              of decoder: OpaquePointer) -> [UInt8]? {
        var length = 0
        guard let bytes = accessor(decoder, &length), length > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: bytes, count: length))
    }

    private static func latin1String(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        let bytes = UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self)
        let scalars = UnsafeBufferPointer(start: bytes, count: strlen(pointer)).map { Unicode.Scalar($0) }
        return String(String.UnicodeScalarView(scalars))
    }

    // MARK: - Encoding helpers

    /// The `parameters` text, which JPEG and WebP carry as EXIF UserComment.
    private static func parameters(_ text: [(key: String, value: String)]) -> String? {
        text.last { $0.key == "parameters" }?.value
    }

    /// The input's EXIF as the output carries it (see `ccodecs_exif_rewrite`), or nil when
    /// there is none to carry.
    private static func rewrittenEXIF(_ metadata: ImageMetadata, width: Int, height: Int, parameters: String?,
                                      path: String) throws -> [UInt8]? {
        guard let exif = metadata.exif else { return nil }
        let comment = parameters.map(ExifUserComment.comment)
        var message = messageBuffer()
        var rewritten: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = withOptionalBytes(comment) { commentBytes in
            var changes = ccodecs_exif_changes(
                width: UInt32(clamping: width), height: UInt32(clamping: height),
                reset_orientation: metadata.orientationApplied ? 1 : 0,
                comment: commentBytes?.baseAddress, comment_length: commentBytes?.count ?? 0)
            return exif.withUnsafeBufferPointer { input in
                ccodecs_exif_rewrite(input.baseAddress, input.count, &changes, &rewritten, &length, &message, capacity)
            }
        }
        defer { free(rewritten) }
        guard status == CCODECS_OK else { throw ImagingError.writeFailed(path: path, reason: string(message)) }
        return rewritten.map { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// Calls `body` with C views of the metadata blocks (nil when there are none).
    private static func withMetadata(exif: [UInt8]?, icc: [UInt8]?, xmp: [UInt8]?,
                                     _ body: (UnsafePointer<ccodecs_metadata>?) -> ccodecs_status) -> ccodecs_status {
        guard exif != nil || icc != nil || xmp != nil else { return body(nil) }
        return withOptionalBytes(exif) { exifBytes in
            withOptionalBytes(icc) { iccBytes in
                withOptionalBytes(xmp) { xmpBytes in
                    var metadata = ccodecs_metadata(exif: exifBytes?.baseAddress, exif_length: exifBytes?.count ?? 0,
                                                    icc: iccBytes?.baseAddress, icc_length: iccBytes?.count ?? 0,
                                                    xmp: xmpBytes?.baseAddress, xmp_length: xmpBytes?.count ?? 0)
                    return body(&metadata)
                }
            }
        }
    }

    private static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBufferPointer(body)
    }

    /// A text chunk as the C encoder wants it: NUL-terminated key and value bytes.
    private struct EncodedText {
        var key: [CChar]
        var value: [CChar]
        var utf8: Bool
    }

    private static func encodeTexts(_ text: [(key: String, value: String)], path: String) throws -> [EncodedText] {
        try text.map { entry in
            let keyScalars = entry.key.unicodeScalars
            guard (1...79).contains(keyScalars.count),
                  keyScalars.allSatisfy({ (0x20...0x7E).contains($0.value) || (0xA1...0xFF).contains($0.value) }) else {
                throw ImagingError.writeFailed(
                    path: path, reason: "PNG text keyword \"\(entry.key)\" must be 1 to 79 printable Latin-1 characters")
            }
            guard !entry.value.unicodeScalars.contains("\0") else {
                throw ImagingError.writeFailed(path: path, reason: "PNG text \"\(entry.key)\" contains a NUL character")
            }
            let latin1 = entry.value.unicodeScalars.allSatisfy { $0.value <= 0xFF }
            let valueBytes: [UInt8] = latin1 ? entry.value.unicodeScalars.map { UInt8($0.value) } : Array(entry.value.utf8)
            return EncodedText(key: keyScalars.map { CChar(bitPattern: UInt8($0.value)) } + [0],
                               value: valueBytes.map { CChar(bitPattern: $0) } + [0], utf8: !latin1)
        }
    }

    /// Calls `body` with C views of `texts`, valid only for the duration of the call.
    private static func withTextArray<R>(_ texts: [EncodedText],
                                         _ body: (UnsafeBufferPointer<ccodecs_text>) -> R) -> R {
        let keys = texts.map { text in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: text.key.count)
            copy.initialize(from: text.key, count: text.key.count)
            return copy
        }
        let values = texts.map { text in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: text.value.count)
            copy.initialize(from: text.value, count: text.value.count)
            return copy
        }
        defer {
            keys.forEach { $0.deallocate() }
            values.forEach { $0.deallocate() }
        }
        let entries = texts.indices.map { index in
            ccodecs_text(key: keys[index], value: values[index], value_length: texts[index].value.count - 1,
                         utf8: texts[index].utf8 ? 1 : 0)
        }
        return entries.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the image quantised to `depth` bits, keeping the first `channels`.
    private static func withSamples(_ image: Image, depth: Int, channels: Int,
                                    _ body: (UnsafeRawPointer) -> ccodecs_status) -> ccodecs_status {
        func call(_ bytes: UnsafeRawBufferPointer) -> ccodecs_status {
            bytes.baseAddress.map(body) ?? CCODECS_ERROR_WRITE
        }
        if depth == 16 {
            let raw: [UInt16] = quantize(image, channels: channels, maximum: 65535)
            return raw.withUnsafeBytes(call)
        }
        let raw: [UInt8] = quantize(image, channels: channels, maximum: 255)
        return raw.withUnsafeBytes(call)
    }

    /// `round(v * maximum)` clamped to the sample range; NaN becomes 0.
    private static func quantize<Sample: FixedWidthInteger>(_ image: Image, channels: Int,
                                                            maximum: Float) -> [Sample] {
        let source = image.channels
        let count = image.pixelCount * channels
        return [Sample](unsafeUninitializedCapacity: count) { output, initialized in
            image.samples.withUnsafeBufferPointer { input in
                for pixel in 0..<image.pixelCount {
                    for channel in 0..<channels {
                        let scaled = (input[pixel * source + channel] * maximum).rounded()
                        let clamped = scaled.isNaN ? 0 : min(max(scaled, 0), maximum)
                        output[pixel * channels + channel] = Sample(clamped)
                    }
                }
            }
            initialized = count
        }
    }
}
