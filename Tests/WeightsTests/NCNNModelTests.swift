import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Weights

/// The tiny ncnn exports written by tools/reference/esrgan_fixtures.py, checked against the
/// safetensors holding the same weights under PyTorch names.
@Suite struct NCNNModelTests {
    private func model(_ stem: String, bin: String? = nil) throws -> NCNNModel {
        try NCNNModel(param: Fixtures.url("esrgan", "\(stem).param"), bin: Fixtures.url("esrgan", "\(bin ?? stem).bin"))
    }

    @Test func parsesLayerLinesBlobsAndParameters() throws {
        let srvgg = try model("srvgg")
        #expect(srvgg.layers.map(\.type) == ["Input", "Split", "Convolution", "PReLU", "Convolution", "PReLU",
                                             "Convolution", "PReLU", "Convolution", "PixelShuffle", "Interp", "BinaryOp"])
        let split = srvgg.layers[1]
        #expect(split.inputs == ["data"])
        #expect(split.outputs == ["data_splitncnn_0", "data_splitncnn_1"])
        let interp = srvgg.layers[10]
        #expect(interp.int(0, default: 0) == 1)
        #expect(interp.float(1, default: 0) == 4)
        let conv = try #require(try model("rrdb").layers.first { $0.name == "Convolution_2" })
        // "-23310=1,2.000000e-01": array parameter 10 (activation params) of one value.
        #expect(conv.int(9, default: 0) == 2)
        #expect(conv.array(10) == [0.2])
        #expect(conv.int(11, default: conv.int(1, default: 0)) == 3)
    }

    @Test func readsF16ConvolutionWeightsF32BiasesAndPReLUSlopes() throws {
        let store = try WeightStore(url: Fixtures.url("esrgan", "srvgg.safetensors"))
        let weighted = try model("srvgg").layers.filter { !$0.weights.isEmpty }
        #expect(weighted.count == 7)
        for (index, layer) in weighted.enumerated() {
            for (suffix, tensor) in layer.weights {
                let expected = try store.tensor(named: "body.\(index).\(suffix)")
                #expect(tensor.shape == expected.shape, "\(layer.name).\(suffix)")
                #expect(tensor.scalars == expected.scalars, "\(layer.name).\(suffix)")
            }
        }
    }

    @Test func readsRawF32TaggedWeightsAsTheSameValues() throws {
        let f16 = try model("srvgg").layers
        let f32 = try model("srvgg", bin: "srvgg_f32").layers
        for (a, b) in zip(f16, f32) {
            #expect(a.weights == b.weights, "\(a.name)")
        }
    }

    @Test func refusesAnUnsupportedLayerNamingIt() throws {
        let folder = try makeScratchFolder()
        let text = try String(contentsOf: Fixtures.url("esrgan", "srvgg.param"), encoding: .utf8)
            .replacingOccurrences(of: "PixelShuffle             PixelShuffle_8", with: "Pooling                  pool_8")
        try text.write(to: folder.appendingPathComponent("m.param"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: Fixtures.url("esrgan", "srvgg.bin"), to: folder.appendingPathComponent("m.bin"))
        let error = #expect(throws: WeightsError.self) {
            try NCNNModel(param: folder.appendingPathComponent("m.param"), bin: folder.appendingPathComponent("m.bin"))
        }
        #expect(error == .unsupportedNCNNLayer(path: folder.appendingPathComponent("m.param").path, layer: "pool_8", type: "Pooling"))
        #expect(error?.errorDescription?.contains("'pool_8'") == true)
    }

    @Test func refusesBadMagicTruncatedAndOverlongWeights() throws {
        let folder = try makeScratchFolder()
        let param = folder.appendingPathComponent("m.param")
        let bin = folder.appendingPathComponent("m.bin")
        let weights = try Data(contentsOf: Fixtures.url("esrgan", "srvgg.bin"))
        try FileManager.default.copyItem(at: Fixtures.url("esrgan", "srvgg.param"), to: param)

        try weights.dropLast(4).write(to: bin)
        #expect(throws: WeightsError.truncated(path: bin.path, detail: "weights of layer 'Convolution_7' end past the file")) {
            try NCNNModel(param: param, bin: bin)
        }
        try (weights + Data([0, 0, 0, 0])).write(to: bin)
        #expect(throws: WeightsError.self) { try NCNNModel(param: param, bin: bin) }

        try weights.write(to: bin)
        try "7767518\n0 0\n".write(to: param, atomically: true, encoding: .utf8)
        #expect(throws: WeightsError.badNCNNParam(path: param.path, line: 1, detail: "first line is not the magic 7767517")) {
            try NCNNModel(param: param, bin: bin)
        }
    }
}
