import Foundation
import Tensors

/// torch.nn.ConvTranspose2d with a square kernel, no padding and groups 1 (Depth Anything's
/// reassemble upsampling: kernel = stride = the factor).
public struct ConvTranspose2D: Sendable {
    public let inChannels, outChannels, kernelSize, stride: Int
    /// The weight as a [out * k * k, in] matrix, so one GEMM gives every tap's contribution.
    private let columnWeight: Tensor
    private let bias: Tensor?

    // weight: [in, out, k, k], bias: [out]
    public init(_ parameters: Parameters, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int,
                bias: Bool = true) throws {
        let weight = try parameters.tensor("weight", shape: [inChannels, outChannels, kernelSize, kernelSize])
        columnWeight = weight.reshaped([inChannels, outChannels * kernelSize * kernelSize]).transposed(0, 1)
        self.bias = bias ? try parameters.tensor("bias", shape: [outChannels]) : nil
        (self.inChannels, self.outChannels, self.kernelSize, self.stride) = (inChannels, outChannels, kernelSize, stride)
    }

    // x: [N, in, H, W] -> [N, out, (H - 1) * stride + k, (W - 1) * stride + k]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "ConvTranspose2D expects [N, \(inChannels), H, W], got \(x.shape)")
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let (outHeight, outWidth) = ((height - 1) * stride + kernelSize, (width - 1) * stride + kernelSize)
        let taps = kernelSize * kernelSize
        var out = Tensor(zeros: [batch, outChannels, outHeight, outWidth])
        for sample in 0..<batch {
            let input = x.sliced(axis: 0, sample..<sample + 1).reshaped([inChannels, height * width])
            let columns = matmul(columnWeight, input)  // [out * k * k, H * W]
            out.withUnsafeMutableBufferPointer { output in
                columns.withUnsafeBufferPointer { column in
                    Parallel.forEach(count: outChannels) { channel in
                        let plane = (sample * outChannels + channel) * outHeight * outWidth
                        let start = bias.map { $0.scalars[channel] } ?? 0
                        for pixel in 0..<(outHeight * outWidth) { output[plane + pixel] = start }
                        for tap in 0..<taps {
                            let (dy, dx) = (tap / kernelSize, tap % kernelSize)
                            let row = (channel * taps + tap) * height * width
                            for y in 0..<height {
                                let target = plane + (y * stride + dy) * outWidth + dx
                                for x in 0..<width {
                                    output[target + x * stride] += column[row + y * width + x]
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
