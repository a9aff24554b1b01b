import Foundation
import Imaging
import Models
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// A stop request reaches Real-ESRGAN between tiles: the callback sees each tile's index and
/// the tile count, and returning false ends the upscale there with `cancelled`.
@Test func realESRGANStopsAtATileBoundary() throws {
    let network = try loadSuperResolutionNetwork(at: Fixtures.url("esrgan", "srvgg.param"))
    let upscaler = RealESRGANUpscale(network: network)
    let image = Image(width: 18, height: 14, channels: 3, samples: (0..<18 * 14 * 3).map { Float($0 % 7) / 7 })
    var seen: [(Int, Int)] = []
    #expect(throws: PipelinesError.cancelled(step: 2)) {
        try upscaler.upscale(image, tileSize: 8, tileOverlap: 2, progress: { tile, tiles in
            seen.append((tile, tiles))
            return tile < 2
        })
    }
    #expect(seen.map(\.0) == [0, 1, 2])
    let tiles = upscaler.tileLayout(width: 18, height: 14, tileSize: 8, tileOverlap: 2)
    #expect(seen.allSatisfy { $0.1 == tiles.columns.count * tiles.rows.count })
}
