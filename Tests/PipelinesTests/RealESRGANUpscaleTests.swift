import Foundation
import Imaging
import Models
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Pipelines

/// Real-ESRGAN upscaling of whole images with the networks of
/// tools/reference/esrgan_fixtures.py (RRDBNet and SRVGGNetCompact, tiny): the untiled run
/// against the mirror-padded PyTorch reference, tiles against it, gray, alpha and outscale.
@Suite struct RealESRGANUpscaleTests {
    static let level: Float = 1 / 255

    private func io(_ name: String) throws -> Tensor {
        try WeightStore(url: Fixtures.root.appendingPathComponent("esrgan/io.safetensors")).tensor(named: name)
    }

    private func network(_ file: String) throws -> any SuperResolutionNetwork {
        try loadSuperResolutionNetwork(at: Fixtures.root.appendingPathComponent("esrgan/\(file)"))
    }

    @Test(arguments: ["rrdb.param", "srvgg.param"])
    func untiledUpscaleMatchesMirrorPaddedReference(file: String) throws {
        let upscaler = RealESRGANUpscale(network: try network(file))
        let result = upscaler.upscale(try fixtureImage(), tileSize: 0)
        // F.pad(x, (10, 10, 10, 10), "reflect") -> net -> crop 40 px, clamped to 0...1
        let expected = try io("\(file.prefix { $0 != "." }).upscaled")
        #expect(result.width == 72 && result.height == 56 && result.channels == 3)
        #expect(maxDifference(result, planar: expected) <= Self.level)
    }

    @Test(arguments: [(8, 4), (7, 2), (10, 0)])
    func tiledUpscaleMatchesUntiledReference(tile: Int, overlap: Int) throws {
        let upscaler = RealESRGANUpscale(network: try network("srvgg.param"))
        #expect(upscaler.tileLayout(width: 18, height: 14, tileSize: tile, tileOverlap: overlap).columns.count > 1)
        let result = upscaler.upscale(try fixtureImage(), tileSize: tile, tileOverlap: overlap)
        #expect(maxDifference(result, planar: try io("srvgg.upscaled")) <= Self.level)
    }

    @Test func grayIsUpscaledAsReplicatedRGBThenLuma() throws {
        let upscaler = RealESRGANUpscale(network: try network("srvgg.param"))
        let rgb = try fixtureImage()
        let gray = Image(width: rgb.width, height: rgb.height, channels: 1, bitDepth: 16,
                         samples: stride(from: 0, to: rgb.samples.count, by: 3).map { rgb.samples[$0] })
        let replicated = Image(width: rgb.width, height: rgb.height, channels: 3,
                               samples: gray.samples.flatMap { [$0, $0, $0] })
        let result = upscaler.upscale(gray, tileSize: 0)
        let colour = upscaler.upscale(replicated, tileSize: 0)
        #expect(result.channels == 1 && result.bitDepth == 16)
        for pixel in 0 ..< result.pixelCount {
            let (r, g, b): (Float, Float, Float) =
                (colour.samples[3 * pixel], colour.samples[3 * pixel + 1], colour.samples[3 * pixel + 2])
            let luma: Float = 0.299 * r + 0.587 * g + 0.114 * b
            #expect(abs(result.samples[pixel] - luma) < 1e-5)
        }
    }

    @Test func alphaIsUpscaledBicubicAndColourByTheNetwork() throws {
        let upscaler = RealESRGANUpscale(network: try network("srvgg.param"))
        let rgb = try fixtureImage()
        let alphaValues = (0 ..< rgb.pixelCount).map { Float($0 % 7) / 6 }
        var rgbaSamples: [Float] = []
        for pixel in 0 ..< rgb.pixelCount {
            rgbaSamples += rgb.samples[3 * pixel ..< 3 * pixel + 3]
            rgbaSamples.append(alphaValues[pixel])
        }
        let rgba = Image(width: rgb.width, height: rgb.height, channels: 4, samples: rgbaSamples)
        let result = upscaler.upscale(rgba, tileSize: 0)
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
        let upscaler = RealESRGANUpscale(network: try network("srvgg.param"))
        let image = try fixtureImage()
        let native = upscaler.upscale(image, tileSize: 0)
        let half = upscaler.upscale(image, scale: 2.5, tileSize: 0)
        #expect(half.width == 45 && half.height == 35)
        #expect(half == native.resized(width: 45, height: 35, filter: .lanczos3))
    }

    private func fixtureImage() throws -> Image {
        let image = try io("image")  // [14, 18, 3] in 0...1
        return Image(width: 18, height: 14, channels: 3, samples: image.scalars)
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
