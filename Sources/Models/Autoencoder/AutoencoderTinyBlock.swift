import Tensors
import Weights

/// diffusers' AutoencoderTinyBlock (unets/unet_2d_blocks.py): three 3x3 convolutions with ReLU
/// between them, plus the input (through a 1x1 convolution when the width changes), then ReLU.
public struct AutoencoderTinyBlock: Sendable {
    let convs: [Conv2D]
    let skip: Conv2D?

    public init(_ parameters: Parameters, inChannels: Int, outChannels: Int) throws {
        convs = try [0, 2, 4].map { index in
            try Conv2D(parameters.scoped("conv.\(index)"), inChannels: index == 0 ? inChannels : outChannels,
                       outChannels: outChannels, kernelSize: 3, padding: 1)
        }
        skip = inChannels == outChannels ? nil
            : try Conv2D(parameters.scoped("skip"), inChannels: inChannels, outChannels: outChannels, kernelSize: 1, bias: false)
    }

    // x: [N, in, H, W] -> [N, out, H, W]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let hidden = convs[1](convs[0](x, epilogue: .leakyReLU(slope: 0)), epilogue: .leakyReLU(slope: 0))
        let sum = convs[2](hidden, epilogue: .scaledResidual(scale: 1, residual: skip.map { $0(x) } ?? x))
        return relu(sum)
    }
}
