/// What a photo file says about its pixels besides the pixels: its camera's EXIF, its colour
/// profile and its XMP packet, read with the image (`ImageFile.readWithMetadata`) so that an edit can
/// carry them to its output (`ImageFile.write(_:to:format:metadata:)`).
public struct ImageMetadata: Sendable, Equatable {
    /// The TIFF-structured EXIF payload (starting "II*\0" or "MM\0*") as the file held it.
    public var exif: [UInt8]?
    /// The ICC profile as the file held it.
    public var iccProfile: [UInt8]?
    /// The XMP packet as the file held it (UTF-8 XML, not checked: see `OutputXMP`).
    public var xmp: [UInt8]?
    /// Whether reading turned the pixels upright (JPEG, PNG and WebP with EXIF by its
    /// Orientation, HEIF and AVIF always, by their irot / imir transforms), so that the
    /// Orientation written with them, in EXIF and in XMP, must be 1; other files keep their
    /// pixels as stored, and their Orientation still holds.
    public var orientationApplied: Bool

    public init(exif: [UInt8]? = nil, iccProfile: [UInt8]? = nil, xmp: [UInt8]? = nil, orientationApplied: Bool = false) {
        self.exif = exif
        self.iccProfile = iccProfile
        self.xmp = xmp
        self.orientationApplied = orientationApplied
    }

    /// Nothing to carry: outputs get only what the writer itself adds.
    public static let none = ImageMetadata()

    /// The ICC profile when it describes samples of `colorChannels` (an RGB profile for 3, a
    /// gray one for 1), as PNG requires and every reader assumes; a profile of another
    /// colour space (a CMYK TIFF's, a gray photo's after a colour edit) would misdescribe them.
    func iccProfile(forColorChannels colorChannels: Int) -> [UInt8]? {
        guard let iccProfile, iccProfile.count >= 20 else { return nil }
        let colorSpace = String(decoding: iccProfile[16..<20], as: UTF8.self)
        return colorSpace == (colorChannels == 1 ? "GRAY" : "RGB ") ? iccProfile : nil
    }
}
