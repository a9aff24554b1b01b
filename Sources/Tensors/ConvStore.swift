/// The epilogue with its tensors left out (`ConvStore` holds them as pointers).
enum StoreRule {
    case plain
    case leakyReLU(Float)
    case preLU
    case scaledResidual(Float)

    init(_ epilogue: ConvEpilogue) {
        switch epilogue {
        case .identity: self = .plain
        case let .leakyReLU(slope): self = .leakyReLU(slope)
        case .preLU: self = .preLU
        case let .scaledResidual(scale, _): self = .scaledResidual(scale)
        }
    }

    /// Whether the store's operand is per-channel slopes (else it is a residual, or unused).
    var readsSlopes: Bool {
        if case .preLU = self { return true }
        return false
    }
}

/// Where one image's output channels of one panel go, and how they are finished.
struct ConvStore {
    let rule: StoreRule
    /// Output channel 0 of the panel, at pixel 0.
    let target: UnsafeMutablePointer<Float>
    let bias: UnsafePointer<Float>
    /// The epilogue's tensor: PReLU's slope of the panel's channel 0, or the residual at the
    /// target's position.
    let operand: UnsafePointer<Float>?
    /// Floats between output channels.
    let plane: Int

    /// Stores `rule(source[i] + bias[channel])` at pixels `first..<first + count` of `channel`.
    /// `source` may be the target itself (then `addBias` says whether the bias is still missing).
    func finish(channel: Int, pixels first: Int, count: Int, from source: UnsafePointer<Float>, addBias: Bool = true) {
        let out = target + channel * plane + first
        let shift = addBias ? bias[channel] : 0
        func leakyStore(slope: Float) {
            // A select rather than a guarded store, so the loop vectorises.
            for index in 0..<count {
                let value = source[index] + shift
                out[index] = value < 0 ? value * slope : value
            }
        }
        switch rule {
        case .plain:
            for index in 0..<count { out[index] = source[index] + shift }
        case let .leakyReLU(slope):
            leakyStore(slope: slope)
        case .preLU:
            guard let slopes = operand else { return }
            leakyStore(slope: slopes[channel])
        case let .scaledResidual(scale):
            guard let residual = operand else { return }
            let add = residual + channel * plane + first
            for index in 0..<count { out[index] = (source[index] + shift) * scale + add[index] }
        }
    }

    /// Finishes pixels `first..<first + count` of every channel in place, after products that
    /// accumulated onto a bias fill.
    func finishInPlace(channels: Int, pixels first: Int, count: Int) {
        if case .plain = rule { return }
        for channel in 0..<channels {
            finish(channel: channel, pixels: first, count: count, from: target + channel * plane + first, addBias: false)
        }
    }

    /// Sets pixels `first..<first + count` of every channel to its bias.
    func fillBias(channels: Int, pixels first: Int, count: Int) {
        for channel in 0..<channels {
            (target + channel * plane + first).update(repeating: bias[channel], count: count)
        }
    }
}
