import Tensors
import Weights

/// Real-ESRGAN's compact VGG-style network (realesr-animevideov3, realesr-general-x4v3).
///
/// This implementation matches: [realesrgan SRVGGNetCompact](https://github.com/xinntao/Real-ESRGAN/blob/master/realesrgan/archs/srvgg_arch.py)
/// with `act_type="prelu"` and its key names (`body.0` the first convolution, `body.1` its
/// PReLU, ..., the last `body.N` the convolution to `3 * upscale^2` channels): the body, a
/// pixel shuffle, plus the nearest-upsampled input.
///
/// Limitations: PReLU activations only (the released models' choice); the ncnn x2/x3 exports
/// end with a bicubic downscale of the x4 output, which is not part of this network (the
/// upscaler resizes to the requested scale instead).
public struct SRVGGNetCompact: SuperResolutionNetwork {
    public let scale: Int
    public let inputChannels: Int
    let convs: [Conv2D]
    let slopes: [Tensor]

    /// Loads from upstream PyTorch key names; sizes come from the tensors' shapes.
    public init(source: any ParameterSource) throws {
        let parameters = Parameters(source)
        let indices = Set(source.keys.compactMap { key -> Int? in
            let parts = key.split(separator: ".")
            return parts.first == "body" && parts.count == 3 ? Int(parts[1]) : nil
        })
        let lastIndex = indices.max() ?? 0
        guard lastIndex >= 2, lastIndex % 2 == 0, indices.count == lastIndex + 1 else {
            throw ModelsError.unsupportedConfig(path: source.path, detail: "body.N keys do not make an SRVGGNetCompact")
        }
        let first = try parameters.shape(of: "body.0.weight")
        let last = try parameters.shape(of: "body.\(lastIndex).weight")
        guard first.count == 4, last.count == 4 else {
            throw ModelsError.unsupportedConfig(path: source.path, detail: "SRVGGNetCompact convolutions must be 4-D")
        }
        let (inputs, features) = (first[1], first[0])
        let upscale = Int(Double(last[0] / inputs).squareRoot().rounded())
        guard upscale >= 1, upscale * upscale * inputs == last[0] else {
            throw ModelsError.unsupportedConfig(path: source.path,
                                                detail: "last convolution's \(last[0]) outputs are not \(inputs) x upscale^2")
        }
        scale = upscale
        inputChannels = inputs
        convs = try stride(from: 0, through: lastIndex, by: 2).map { index in
            try Conv2D(parameters.scoped("body.\(index)"), inChannels: index == 0 ? inputs : features,
                       outChannels: index == lastIndex ? last[0] : features, kernelSize: 3, padding: 1)
        }
        slopes = try stride(from: 1, to: lastIndex, by: 2).map {
            try parameters.tensor("body.\($0).weight", shape: [features])
        }
        try parameters.checkAllUsed()
    }

    /// Loads an ncnn export (alternating Convolution and PReLU layers, then PixelShuffle).
    public init(ncnn model: NCNNModel) throws {
        var tensors: [String: Tensor] = [:]
        var index = 0
        for layer in model.layers where layer.type == "Convolution" || layer.type == "PReLU" {
            guard (layer.type == "Convolution") == index.isMultiple(of: 2), layer.int(9, default: 0) == 0 else {
                throw ModelsError.unsupportedConfig(path: model.path,
                                                    detail: "layer '\(layer.name)' breaks SRVGGNetCompact's conv/PReLU order")
            }
            for (suffix, tensor) in layer.weights { tensors["body.\(index).\(suffix)"] = tensor }
            index += 1
        }
        try self.init(source: NamedTensorSource(path: model.path, tensors: tensors))
        let shuffles = model.layers(ofType: "PixelShuffle")
        guard shuffles.count == 1, shuffles[0].int(0, default: 1) == scale,
              model.layers(ofType: "Interp").contains(where: { $0.isNearestUpsampling(by: Float(scale)) }) else {
            throw ModelsError.unsupportedConfig(path: model.path,
                                                detail: "graph lacks SRVGGNetCompact's pixel shuffle by \(scale) and nearest upsampling")
        }
    }

    // x: [N, C, H, W] in 0...1 -> [N, C, sH, sW]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var out = x
        for (index, conv) in convs.enumerated() {
            out = index < slopes.count ? conv(out, epilogue: .preLU(slopes: slopes[index])) : conv(out)
        }
        var result = pixelShuffle(out, factor: scale)
        result += upsampleNearest(x, factor: scale)
        return result
    }
}

/// torch.nn.PixelShuffle: channel groups of `factor * factor` become `factor` x `factor` patches.
// x: [N, C*f*f, H, W] -> [N, C, H*f, W*f]
func pixelShuffle(_ x: Tensor, factor: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1] / (factor * factor), x.shape[2], x.shape[3])
    return x.reshaped([n, c, factor, factor, h, w])
        .permuted([0, 1, 4, 2, 5, 3])
        .reshaped([n, c, h * factor, w * factor])
}

/// torch.nn.functional.interpolate(x, scale_factor=factor, mode="nearest") for an integer factor.
// x: [N, C, H, W] -> [N, C, H*f, W*f]
func upsampleNearest(_ x: Tensor, factor: Int) -> Tensor {
    let (rows, width) = (x.shape[0] * x.shape[1] * x.shape[2], x.shape[3])
    return Tensor(shape: [x.shape[0], x.shape[1], x.shape[2] * factor, width * factor]) { out in
        x.withUnsafeBufferPointer { source in
            guard let input = source.baseAddress, let output = out.baseAddress else { return }
            for row in 0 ..< rows {
                let target = output + row * factor * factor * width
                for column in 0 ..< width * factor { target[column] = input[row * width + column / factor] }
                for copy in 1 ..< factor { (target + copy * factor * width).initialize(from: target, count: factor * width) }
            }
        }
    }
}
