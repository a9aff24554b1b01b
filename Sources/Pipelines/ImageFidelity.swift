import Foundation
import Imaging

/// How close two images are, for reconstruction checks.
enum ImageFidelity {
    /// PSNR in dB over every sample of two images of one size (samples in [0, 1], so the
    /// peak is 1); infinity when identical.
    static func psnr(_ a: Image, _ b: Image) -> Double {
        var squared = 0.0
        for (x, y) in zip(a.samples, b.samples) {
            let difference = Double(x) - Double(y)
            squared += difference * difference
        }
        let mse = squared / Double(max(min(a.samples.count, b.samples.count), 1))
        return mse == 0 ? .infinity : 10 * log10(1 / mse)
    }
}
