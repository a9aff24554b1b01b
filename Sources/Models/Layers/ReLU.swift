import Foundation
import Tensors

/// torch.relu: max(x, 0). Reuses `x`'s storage when the caller gives it up.
// x: any shape -> same shape
func relu(_ x: consuming Tensor) -> Tensor {
    var y = consume x
    y.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices where !(buffer[index] > 0) { buffer[index] = 0 }
    }
    return y
}
