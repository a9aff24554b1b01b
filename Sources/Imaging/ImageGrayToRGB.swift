extension Image {
    /// Gray (1 channel) or gray+alpha (2) as RGB or RGBA, for formats that store colour
    /// only (WebP); other layouts come back unchanged.
    func expandingGrayToRGB() -> Image {
        guard colorChannels == 1 else { return self }
        let outChannels = hasAlpha ? 4 : 3
        var out = [Float](repeating: 0, count: pixelCount * outChannels)
        for pixel in 0..<pixelCount {
            let gray = samples[pixel * channels]
            for c in 0..<3 { out[pixel * outChannels + c] = gray }
            if hasAlpha { out[pixel * outChannels + 3] = samples[pixel * channels + 1] }
        }
        return Image(width: width, height: height, channels: outChannels, bitDepth: bitDepth, samples: out)
    }
}
