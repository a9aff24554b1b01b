/// A decoded raster image: interleaved samples in 0...1, rows top to bottom.
///
/// Samples are `Float` so every edit works on one representation whatever the file held;
/// 8- and 16-bit samples survive the round trip exactly (`v / 255` and `v / 65535` are
/// recovered by rounding, since both fit a Float's 24-bit mantissa).
public struct Image: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    public var channels: Int
    /// Bits per sample of the source (8 or 16); writers keep it unless told otherwise.
    public var bitDepth: Int
    /// `height * width * channels` samples, interleaved.
    public var samples: [Float]

    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, samples: [Float]) {
        precondition(samples.count == width * height * channels, "sample count does not match size")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
    }

    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, fill: Float = 0) {
        self.init(width: width, height: height, channels: channels, bitDepth: bitDepth,
                  samples: [Float](repeating: fill, count: width * height * channels))
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }
    public var colorChannels: Int { hasAlpha ? channels - 1 : channels }
    public var pixelCount: Int { width * height }

    @inlinable
    public subscript(x: Int, y: Int, c: Int) -> Float {
        get { samples[(y * width + x) * channels + c] }
        set { samples[(y * width + x) * channels + c] = newValue }
    }
}
