import Foundation

/// Errors of the model-free image operations (Canny, Telea, PatchMatch, mask ops).
public enum ImageOpsError: LocalizedError, Equatable {
    /// A mask's size differs from the image it applies to.
    case maskSizeMismatch(imageWidth: Int, imageHeight: Int, maskWidth: Int, maskHeight: Int)
    /// A sample buffer holds a different number of samples than `width * height * channels`.
    case sampleCountMismatch(expected: Int, actual: Int)
    /// Width, height or channel count is not positive.
    case invalidShape(width: Int, height: Int, channels: Int)

    public var errorDescription: String? {
        switch self {
        case let .maskSizeMismatch(iw, ih, mw, mh):
            return "mask is \(mw)x\(mh) but the image is \(iw)x\(ih)"
        case let .sampleCountMismatch(expected, actual):
            return "sample buffer holds \(actual) samples, expected \(expected)"
        case let .invalidShape(width, height, channels):
            return "invalid image shape \(width)x\(height) with \(channels) channels"
        }
    }
}
