import Foundation
import Imaging
import Testing
import Tensors
import Weights
@testable import Models

/// Real-ESRGAN networks against the PyTorch reference architectures
/// (tools/reference/esrgan_fixtures.py): RRDBNet(3, 3, 4, num_feat=8, num_block=2,
/// num_grow_ch=4) and SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=4, prelu).
@Suite struct ESRGANTests {
    static let level: Float = 1 / 255

    private func io(_ name: String) throws -> Tensor {
        try ModelFixtures.store("esrgan", "io.safetensors").tensor(named: name)
    }

    private func network(_ file: String) throws -> any SuperResolutionNetwork {
        try loadSuperResolutionNetwork(at: ModelFixtures.url("esrgan", file))
    }

    @Test(arguments: ["rrdb.safetensors", "rrdb.param", "srvgg.safetensors", "srvgg.param"])
    func forwardMatchesPyTorch(file: String) throws {
        let net = try network(file)
        let stem = String(file.prefix { $0 != "." })
        #expect(net is RRDBNet == (stem == "rrdb"))
        #expect(net.scale == 4)
        // out = net(x), x = torch.rand(1, 3, 6, 7)
        let output = net(try io("\(stem).input"))
        let expected = try io("\(stem).output")
        #expect(output.shape == [1, 3, 24, 28])
        #expect(maxDifference(output, expected) < 1e-4, "\(file)")
    }

    @Test func refusesAGraphOfTheOtherArchitecture() throws {
        let model = try NCNNModel(param: ModelFixtures.url("esrgan", "srvgg.param"),
                                  bin: ModelFixtures.url("esrgan", "srvgg.bin"))
        #expect(throws: ModelsError.self) { try RRDBNet(ncnn: model) }
    }

    @Test(arguments: ["rrdb.param", "srvgg.param"])
    func untiledUpscaleMatchesMirrorPaddedReference(file: String) throws {
        let upscaler = TiledUpscaler(network: try network(file), tileSize: 0)
        let result = upscaler.upscale(try fixtureImage())
        // F.pad(x, (10, 10, 10, 10), "reflect") -> net -> crop 40 px, clamped to 0...1
        let expected = try io("\(file.prefix { $0 != "." }).upscaled")
        #expect(result.width == 72 && result.height == 56 && result.channels == 3)
        #expect(maxDifference(result, planar: expected) <= Self.level)
    }

    @Test(arguments: [(8, 4), (7, 2), (10, 0)])
    func tiledUpscaleMatchesUntiledReference(tile: Int, overlap: Int) throws {
        let upscaler = TiledUpscaler(network: try network("srvgg.param"), tileSize: tile, tileOverlap: overlap)
        #expect(upscaler.tileSpans(length: 18).count > 1)
        let result = upscaler.upscale(try fixtureImage())
        #expect(maxDifference(result, planar: try io("srvgg.upscaled")) <= Self.level)
    }

    @Test func grayIsUpscaledAsReplicatedRGBThenLuma() throws {
        let upscaler = TiledUpscaler(network: try network("srvgg.param"), tileSize: 0)
        let rgb = try fixtureImage()
        let gray = Image(width: rgb.width, height: rgb.height, channels: 1, bitDepth: 16,
                         samples: stride(from: 0, to: rgb.samples.count, by: 3).map { rgb.samples[$0] })
        let replicated = Image(width: rgb.width, height: rgb.height, channels: 3,
                               samples: gray.samples.flatMap { [$0, $0, $0] })
        let result = upscaler.upscale(gray)
        let colour = upscaler.upscale(replicated)
        #expect(result.channels == 1 && result.bitDepth == 16)
        for pixel in 0 ..< result.pixelCount {
            let (r, g, b): (Float, Float, Float) =
                (colour.samples[3 * pixel], colour.samples[3 * pixel + 1], colour.samples[3 * pixel + 2])
            let luma: Float = 0.299 * r + 0.587 * g + 0.114 * b
            #expect(abs(result.samples[pixel] - luma) < 1e-5)
        }
    }

    @Test func alphaIsUpscaledBicubicAndColourByTheNetwork() throws {
        let upscaler = TiledUpscaler(network: try network("srvgg.param"), tileSize: 0)
        let rgb = try fixtureImage()
        let alphaValues = (0 ..< rgb.pixelCount).map { Float($0 % 7) / 6 }
        var rgbaSamples: [Float] = []
        for pixel in 0 ..< rgb.pixelCount {
            rgbaSamples += rgb.samples[3 * pixel ..< 3 * pixel + 3]
            rgbaSamples.append(alphaValues[pixel])
        }
        let rgba = Image(width: rgb.width, height: rgb.height, channels: 4, samples: rgbaSamples)
        let result = upscaler.upscale(rgba)
        #expect(result.channels == 4)
        let expectedAlpha = Image(width: rgb.width, height: rgb.height, channels: 1, samples: alphaValues)
            .resized(width: 72, height: 56, filter: .bicubic)
        let colour = try io("srvgg.upscaled")
        for pixel in 0 ..< result.pixelCount {
            #expect(result.samples[4 * pixel + 3] == expectedAlpha.samples[pixel])
        }
        var rgbSamples: [Float] = []
        for pixel in 0 ..< result.pixelCount { rgbSamples += result.samples[4 * pixel ..< 4 * pixel + 3] }
        let rgbOnly = Image(width: 72, height: 56, channels: 3, samples: rgbSamples)
        #expect(maxDifference(rgbOnly, planar: colour) <= Self.level)
    }

    @Test func otherScalesResizeTheNativeOutputWithLanczos() throws {
        let upscaler = TiledUpscaler(network: try network("srvgg.param"), tileSize: 0)
        let image = try fixtureImage()
        let native = upscaler.upscale(image)
        let half = upscaler.upscale(image, scale: 2.5)
        #expect(half.width == 45 && half.height == 35)
        #expect(half == native.resized(width: 45, height: 35, filter: .lanczos3))
    }

    /// The real realesr-animevideov3 (scripts/fetch-realesrgan) on a 32x32 crop of
    /// samples/chelsea.png, against the PyTorch SRVGGNetCompact loaded with the same weights.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: realModel("realesr-animevideov3-x4.param").path)))
    func realAnimeVideoV3MatchesPyTorchOnChelsea() throws {
        let net = try loadSuperResolutionNetwork(at: realModel("realesr-animevideov3-x4.param"))
        let store = try ModelFixtures.store("esrgan", "animevideov3_chelsea.safetensors")
        let output = net(try store.tensor(named: "input"))
        let expected = try store.tensor(named: "output")
        #expect(output.shape == [1, 3, 128, 128])
        #expect(maxDifference(output, expected) <= Self.level)
    }

    private func fixtureImage() throws -> Image {
        let image = try io("image")  // [14, 18, 3] in 0...1
        return Image(width: 18, height: 14, channels: 3, samples: image.scalars)
    }
}

private func realModel(_ name: String) -> URL {
    ModelFixtures.url("esrgan", "x").deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/realesrgan/\(name)")
}

/// Largest absolute difference; NaN counts as infinitely far.
private func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.scalars, b.scalars).reduce(0) { worst, pair in
        let difference = abs(pair.0 - pair.1)
        return difference.isNaN ? .infinity : max(worst, difference)
    }
}

/// Largest difference between an interleaved RGB image and a `[1, 3, H, W]` reference clamped to 0...1.
private func maxDifference(_ image: Image, planar reference: Tensor) -> Float {
    guard reference.shape == [1, 3, image.height, image.width], image.channels == 3 else { return .infinity }
    let plane = image.pixelCount
    var worst: Float = 0
    for pixel in 0 ..< plane {
        for channel in 0 ..< 3 {
            let expected = min(max(reference.scalars[channel * plane + pixel], 0), 1)
            let difference = abs(image.samples[3 * pixel + channel] - expected)
            if difference.isNaN { return .infinity }
            worst = max(worst, difference)
        }
    }
    return worst
}
