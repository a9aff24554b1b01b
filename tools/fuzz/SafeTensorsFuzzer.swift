import Foundation
import Weights

/// Opens the input as a .safetensors file (header validation, the pickle sniff, the
/// mapping) and reads every tensor it declares, as floats and in place.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let url = ScratchFile.write(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafeTensorsFile(url: url) else { return 0 }
    for key in file.keys {
        let tensor = try? file.tensor(named: key)
        let half = try? file.halfTensor(named: key)
        if let tensor, let half { precondition(tensor.shape == half.shape) }
    }
    return 0
}
