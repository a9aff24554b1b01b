import Foundation
import Imaging

/// PSNR in dB against a full scale of 1 (samples in [0, 1]), from the sum of `count` squared
/// differences; infinite when the sum is 0.
public func peakSignalToNoiseRatio(squaredError: Double, count: Int) -> Double {
    squaredError == 0 ? .infinity : 10 * log10(Double(count) / squaredError)
}

/// PSNR in dB against a full scale of 1 over every sample of two images; minus infinity when
/// their sizes or channel counts differ, so a result of the wrong layout never passes for a
/// close one.
public func peakSignalToNoiseRatio(_ image: Image, _ reference: Image) -> Double {
    guard (image.width, image.height, image.channels) == (reference.width, reference.height, reference.channels) else {
        return -.infinity
    }
    let squaredError = zip(image.samples, reference.samples).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    return peakSignalToNoiseRatio(squaredError: squaredError, count: image.samples.count)
}
