import Foundation
@testable import Weights

/// Parses the input's text up to its first NUL byte as an ncnn .param file and, when that
/// parses, loads the layers' weights from the bytes after the NUL as the .bin.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNCNNParam(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let split = bytes.firstIndex(of: 0) ?? size
    let text = String(decoding: bytes[..<split], as: UTF8.self)
    guard let layers = try? NCNNParamParser(path: "fuzz.param").parse(text) else { return 0 }
    var reader = NCNNWeightReader(data: Data(bytes[min(split + 1, size)...]), path: "fuzz.bin")
    for layer in layers {
        guard (try? reader.loadWeights(of: layer)) != nil else { return 0 }
    }
    _ = try? reader.expectEnd()
    return 0
}
