import Foundation
import Testing
@testable import Weights

/// .param files whose numbers no layer could have (found by tools/fuzz's ncnn-param target)
/// are errors naming the file, not arithmetic-overflow traps.
@Suite struct NCNNHostileInputTests {
    static func load(_ param: String, bin: [UInt8] = []) throws {
        let layers = try NCNNParamParser(path: "net.param").parse(param)
        var reader = NCNNWeightReader(data: Data(bin), path: "net.bin")
        for layer in layers { _ = try reader.loadWeights(of: layer) }
    }

    static func convolution(_ parameters: String) -> String {
        "7767517\n2 2\nInput data 0 1 data\nConvolution conv 1 1 data out \(parameters)\n"
    }

    @Test(arguments: [
        "0=1 1=1333333333333333333 5=1 6=1",           // kernel area times outputs overflows
        "0=3037000500 1=3037000500 6=1",                // outputs times kernel overflows
        "0=1 1=1 6=9223372036854775807",                // f32 byte count overflows
        "0=1 1=1 6=-4",                                 // negative weight count
        "0=1e30 1=1 6=1",                               // a float no Int holds
        "0=1 1=1 6=1e999",                              // an infinite float
    ])
    func impossibleConvolutionIsAnError(parameters: String) {
        let float16Tag: [UInt8] = [0x47, 0x6B, 0x30, 0x01]
        #expect(throws: WeightsError.self) { try Self.load(Self.convolution(parameters), bin: float16Tag + [0, 0, 0, 0]) }
        #expect(throws: WeightsError.self) { try Self.load(Self.convolution(parameters), bin: [0, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test func hugeFloat16CountIsTruncation() {
        let float16Tag: [UInt8] = [0x47, 0x6B, 0x30, 0x01]
        #expect(throws: WeightsError.truncated(path: "net.bin", detail: "weights of layer 'conv' end past the file")) {
            try Self.load(Self.convolution("0=1 1=1 6=9223372036854775807"), bin: float16Tag)
        }
    }

    @Test func blobCountsBeyondTheLineAreAnError() {
        #expect(throws: WeightsError.badNCNNParam(path: "net.param", line: 3, detail: "expected 'Type name nin nout blobs...'")) {
            try Self.load("7767517\n1 1\nInput data 9223372036854775807 1 data\n")
        }
        #expect(throws: WeightsError.self) { try Self.load("7767517\n1 1\nInput data 1 9223372036854775807 a b\n") }
    }

    @Test func smallestArrayKeyDoesNotOverflow() throws {
        let layers = try NCNNParamParser(path: "net.param").parse("7767517\n1 1\nInput data 0 1 data -9223372036854775808=1,2.5\n")
        #expect(layers[0].params[9_223_372_036_854_752_508] == .array([2.5]))
    }
}
