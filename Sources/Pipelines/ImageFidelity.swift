import Foundation
import Imaging

/// How close two images are, for reconstruction checks and precision reports.
public enum ImageFidelity {
    /// PSNR in dB between two runs of samples in [0, 1] (so the peak is 1), over the shorter
    /// run; infinity when identical. With `eightBit`, samples are first clamped and rounded to
    /// the 256 levels a PNG stores, so only differences that survive saving count.
    public static func psnr(_ a: [Float], _ b: [Float], eightBit: Bool = false) -> Double {
        let level = { (value: Float) -> Double in
            eightBit ? Double((min(max(value, 0), 1) * 255).rounded()) / 255 : Double(value)
        }
        var squared = 0.0
        for (x, y) in zip(a, b) {
            let difference = level(x) - level(y)
            squared += difference * difference
        }
        let mse = squared / Double(max(min(a.count, b.count), 1))
        return mse == 0 ? .infinity : 10 * log10(1 / mse)
    }

    /// PSNR over every sample of two images; minus infinity when their sizes differ, so a
    /// result of the wrong size never passes for a close one.
    public static func psnr(_ a: Image, _ b: Image, eightBit: Bool = false) -> Double {
        guard (a.width, a.height, a.channels) == (b.width, b.height, b.channels) else { return -.infinity }
        return psnr(a.samples, b.samples, eightBit: eightBit)
    }
}
