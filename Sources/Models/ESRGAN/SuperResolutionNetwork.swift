import Foundation
import Tensors
import Weights

/// A network that enlarges an RGB image by an integer factor (Real-ESRGAN's generators).
public protocol SuperResolutionNetwork: Sendable {
    /// The factor by which width and height grow.
    var scale: Int { get }
    /// Image channels in and out (3 for the released models).
    var inputChannels: Int { get }
    /// Input sides must be multiples of this (RRDBNet at scales 2 and 1 pixel-unshuffles).
    var inputMultiple: Int { get }
    // x: [N, C, H, W] in 0...1 -> [N, C, scale*H, scale*W] (not clamped)
    func callAsFunction(_ x: Tensor) -> Tensor
}

extension SuperResolutionNetwork {
    public var inputMultiple: Int { 1 }
}

/// Opens a Real-ESRGAN model: an ncnn `.param` (its `.bin` beside it) or a `.safetensors`
/// file with upstream PyTorch key names; the architecture is told from the contents.
public func loadSuperResolutionNetwork(at url: URL) throws -> any SuperResolutionNetwork {
    if url.pathExtension == "param" {
        let model = try NCNNModel(param: url, bin: url.deletingPathExtension().appendingPathExtension("bin"))
        return model.layers(ofType: "PixelShuffle").isEmpty
            ? try RRDBNet(ncnn: model) : try SRVGGNetCompact(ncnn: model)
    }
    let store = try WeightStore(url: url)
    return store.keys.contains("conv_first.weight")
        ? try RRDBNet(source: store) : try SRVGGNetCompact(source: store)
}
