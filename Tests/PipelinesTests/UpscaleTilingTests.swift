import Foundation
import Imaging
import Tensors
import Testing
@testable import Pipelines

/// Tiling of the x4 upscaler: the layout, the cross-fade, and a tiled run against the untiled
/// one (which matches diffusers; see UpscaleParityTests).
@Suite struct UpscaleTilingTests {
    @Test func tilesCoverEachSideAndOverlapByAtLeastTheRequestedAmount() {
        #expect(TileLayout.spans(length: 32, tile: 16, overlap: 4, lastTile: .endAligned) == [0..<16, 12..<28, 16..<32])
        #expect(TileLayout.spans(length: 12, tile: 16, overlap: 4, lastTile: .endAligned) == [0..<12])
        let tiling = StableDiffusionUpscale.tileLayout(width: 40, height: 20, tileSize: 21, overlap: 4)
        // 21 rounds down to 16: columns 0, 12, 24; rows 0 and 4
        #expect(tiling.tiles.count == 6)
        #expect(tiling.tiles.allSatisfy { $0.width == 16 && $0.height == 16 })
        #expect(tiling.tiles.last == TileRect(x: 24, y: 4, width: 16, height: 16))
        #expect(StableDiffusionUpscale.tileLayout(width: 40, height: 20, tileSize: 0, overlap: 4).tiles
                == [TileRect(x: 0, y: 0, width: 40, height: 20)])
    }

    /// Two flat tiles of 0 and 1 overlapping by 8 columns: outside the overlap each keeps its
    /// value, inside the result rises steadily from one to the other (no step above 1/8 + rounding).
    @Test func neighbouringTilesCrossFadeOverTheirOverlap() {
        var blend = TileBlend(layout: TileLayout(columns: [0..<16, 8..<24], rows: [0..<4]))
        blend.add(Tensor(repeating: 0, shape: [1, 3, 4, 16]), tile: 0)
        blend.add(Tensor(repeating: 1, shape: [1, 3, 4, 16]), tile: 1)
        let row = Array(blend.result().scalars[0..<24])
        #expect(row[0..<8].allSatisfy { $0 == 0 } && row[16..<24].allSatisfy { $0 == 1 })
        let steps = zip(row.dropFirst(), row).map { $0 - $1 }
        #expect(steps.allSatisfy { $0 >= 0 && $0 <= 1.0 / 8 + 1e-6 }, "\(row)")
    }

    /// 32x32 input in 4 tiles of 24 (overlap 4 requested; the last tile moves back, so neighbours
    /// share 16 input columns). Measured: PSNR 34.7 dB against the untiled run (bound 30) (random weights:
    /// a tile's UNet sees only its own context, and its attention is global within the tile), and
    /// at the tile edges the tiled output's column-to-column change is within 10% of the untiled
    /// output's there (measured 0.98 to 1.03, bound 1.25; a pasted seam would add a step).
    @Test func tiledRunStaysCloseToTheUntiledOneWithoutSeams() throws {
        let pipeline = try UpscalerFixtures.pipeline.get()
        let image = try UpscalerFixtures.image("input_large.png")
        var options = UpscaleOptions(prompt: UpscalerFixtures.prompt, steps: 4, guidanceScale: 7, noiseLevel: 20, seed: 9)
        let untiled = try pipeline.upscale(image, options: options)
        options.tileSize = 24
        options.tileOverlap = 4
        let tiled = try pipeline.upscale(image, options: options)
        #expect(tiled.width == 128 && tiled.height == 128 && !tiled.samples.contains { $0.isNaN })
        let psnr = ImageFidelity.psnr(tiled, untiled, eightBit: true)
        print("tiled vs untiled: PSNR \(psnr) dB")
        #expect(psnr >= 30, "PSNR \(psnr) dB")
        for edge in [32, 96] {
            let ratio = Self.columnChange(tiled, at: edge) / Self.columnChange(untiled, at: edge)
            let rowRatio = Self.rowChange(tiled, at: edge) / Self.rowChange(untiled, at: edge)
            print("edge \(edge): tiled/untiled change across columns \(ratio), rows \(rowRatio)")
            #expect(ratio < 1.25 && rowRatio < 1.25, "edge \(edge): \(ratio), \(rowRatio)")
        }
    }

    /// Mean absolute change between columns `x - 1` and `x`, over rows and channels, in levels.
    static func columnChange(_ image: Image, at x: Int) -> Double {
        var total = 0.0
        for y in 0..<image.height {
            for c in 0..<3 {
                total += Double(abs(image.samples[(y * image.width + x) * 3 + c] - image.samples[(y * image.width + x - 1) * 3 + c]))
            }
        }
        return total * 255 / Double(image.height * 3)
    }

    /// Mean absolute change between rows `y - 1` and `y`.
    static func rowChange(_ image: Image, at y: Int) -> Double {
        var total = 0.0
        for x in 0..<image.width {
            for c in 0..<3 {
                total += Double(abs(image.samples[(y * image.width + x) * 3 + c] - image.samples[((y - 1) * image.width + x) * 3 + c]))
            }
        }
        return total * 255 / Double(image.width * 3)
    }
}
