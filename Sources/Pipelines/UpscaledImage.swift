import Imaging

extension Imaging.Image {
    /// This enlargement of `original`'s colour with `original`'s alpha put back, enlarged to
    /// this size with bicubic interpolation (Real-ESRGAN's `--alpha_upsampler` offers this or
    /// the model; bicubic costs nothing and cannot hallucinate texture into a mask).
    func withAlpha(upscaledFrom original: Imaging.Image) -> Imaging.Image {
        var alpha = Imaging.Image(width: original.width, height: original.height, channels: 1,
                                  bitDepth: original.bitDepth)
        for pixel in 0..<original.pixelCount {
            alpha.samples[pixel] = original.samples[pixel * original.channels + original.channels - 1]
        }
        let enlarged = alpha.resized(width: width, height: height, filter: .bicubic)
        var result = Imaging.Image(width: width, height: height, channels: colorChannels + 1, bitDepth: bitDepth)
        for pixel in 0..<pixelCount {
            for channel in 0..<colorChannels {
                result.samples[pixel * result.channels + channel] = samples[pixel * channels + channel]
            }
            result.samples[pixel * result.channels + colorChannels] = enlarged.samples[pixel]
        }
        return result
    }

    /// This upscale of `original` at another factor than the model's `native` one, as
    /// Real-ESRGAN's `--outscale` makes it: resized with Lanczos to `scale` times the original
    /// (OpenCV's Lanczos4 there, the Pillow-like Lanczos3 of `Image.resized` here). Nil, or
    /// the native factor, keeps it as it is.
    func outscaled(from original: Imaging.Image, by scale: Double?, native: Int) -> Imaging.Image {
        guard let scale, scale != Double(native) else { return self }
        let target = (width: Int(Double(original.width) * scale), height: Int(Double(original.height) * scale))
        return resized(width: max(1, target.width), height: max(1, target.height), filter: .lanczos3)
    }
}
