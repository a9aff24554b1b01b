/// The EXIF orientation tag (0x0112); the C decoder stores the rows so as to undo it
/// (`ccodecs_decoder_read`), with the same transforms as Pillow's `ImageOps.exif_transpose`.
enum ExifOrientation {
    /// The orientation (1...8) in a TIFF-structured EXIF payload, or nil when absent or malformed.
    static func parse(_ exif: [UInt8]) -> Int? {
        // SHORT (type 3), as the EXIF specification has it.
        guard let fields = ExifFields(exif), fields.entry(0x0112)?.type == 3, let value = fields.integer(0x0112)
        else { return nil }
        return (1...8).contains(value) ? value : nil
    }
}
