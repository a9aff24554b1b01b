import Foundation
import OverpaintTestSupport
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
        try Fixtures.store("esrgan", "io.safetensors").tensor(named: name)
    }

    private func network(_ file: String) throws -> any SuperResolutionNetwork {
        try loadSuperResolutionNetwork(at: Fixtures.url("esrgan", file))
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
        let model = try NCNNModel(param: Fixtures.url("esrgan", "srvgg.param"),
                                  bin: Fixtures.url("esrgan", "srvgg.bin"))
        #expect(throws: ModelsError.self) { try RRDBNet(ncnn: model) }
    }

    /// The real realesr-animevideov3 (scripts/fetch-realesrgan) on a 32x32 crop of
    /// samples/chelsea.png, against the PyTorch SRVGGNetCompact loaded with the same weights.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: realModel("realesr-animevideov3-x4.param").path)))
    func realAnimeVideoV3MatchesPyTorchOnChelsea() throws {
        let net = try loadSuperResolutionNetwork(at: realModel("realesr-animevideov3-x4.param"))
        let store = try Fixtures.store("esrgan", "animevideov3_chelsea.safetensors")
        let output = net(try store.tensor(named: "input"))
        let expected = try store.tensor(named: "output")
        #expect(output.shape == [1, 3, 128, 128])
        #expect(maxDifference(output, expected) <= Self.level)
    }
}

private func realModel(_ name: String) -> URL {
    Fixtures.url("esrgan", "x").deletingLastPathComponent().deletingLastPathComponent()
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
