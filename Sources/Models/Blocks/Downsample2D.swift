import Tensors

/// diffusers' Downsample2D with `use_conv=True`: a stride-2 3x3 convolution.
///
/// With `padding` 0 (the VAE encoder) diffusers first pads right and bottom by one
/// (`F.pad(x, (0, 1, 0, 1))`), so odd and even sizes both halve the same way.
public struct Downsample2D: Sendable {
    public let conv: Conv2D
    public let padding: Int

    public init(_ parameters: Parameters, channels: Int, outChannels: Int? = nil, padding: Int = 1,
                kernelSize: Int = 3, bias: Bool = true) throws {
        conv = try Conv2D(parameters.scoped("conv"), inChannels: channels, outChannels: outChannels ?? channels,
                          kernelSize: kernelSize, stride: 2, padding: padding, bias: bias)
        self.padding = padding
    }

    // x: [N, C, H, W] -> [N, out, H', W'] with H' = (H + 2p - k) / 2 + 1 (H + 1 - k when p = 0)
    public func callAsFunction(_ x: Tensor) -> Tensor {
        padding == 0 ? conv(x, extraPadding: Padding2D(top: 0, bottom: 1, left: 0, right: 1)) : conv(x)
    }

    /// A down block's downsampler (`downsamplers.0`), or nil for a block built without one.
    static func ofBlock(_ parameters: Parameters, added: Bool, channels: Int, padding: Int) throws -> Downsample2D? {
        added ? try Downsample2D(parameters.scoped("downsamplers.0"), channels: channels, padding: padding) : nil
    }
}
