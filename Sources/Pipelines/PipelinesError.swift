import Foundation

/// Everything that can go wrong loading or running a pipeline.
public enum PipelinesError: LocalizedError, Equatable {
    /// The pipeline folder lacks a component the pipeline needs (text_encoder, tokenizer, unet, vae, scheduler).
    case missingComponent(path: String, component: String)
    /// An image too small for the VAE (after flooring to a multiple of its scale factor, nothing is left).
    case imageTooSmall(width: Int, height: Int, multiple: Int)
    /// The mask's size differs from the image's.
    case maskSizeMismatch(image: [Int], mask: [Int])
    /// `strength` outside (0, 1], or so small that no denoising step is left.
    case invalidStrength(strength: Double, steps: Int)
    /// `clipSkip` outside 0...the text encoder's layer count.
    case invalidClipSkip(clipSkip: Int, layers: Int)
    /// The UNet takes a number of input channels this pipeline cannot feed.
    case unsupportedUNetChannels(pipeline: String, channels: Int)
    /// The progress callback asked to stop.
    case cancelled(step: Int)
    /// A control's guidance window is not 0 <= start < end <= 1 (as diffusers' check_inputs).
    case invalidControlWindow(control: Int, start: Double, end: Double)
    /// A ControlNet whose residuals cannot feed this pipeline's UNet (or takes no RGB control map).
    case incompatibleControlNet(control: Int, reason: String)
    /// The x4 upscaler's `noise_level` outside 0...`max_noise_level` (model_index.json).
    case invalidNoiseLevel(level: Int, maximum: Int)
    /// An SDXL UNet whose add_embedding does not take the pooled embeddings plus the time ids.
    case incompatibleAddedConditions(expected: Int, found: Int)
    /// A pipeline that does not run SDXL models yet.
    case unsupportedForSDXL(pipeline: String)
    /// A refiner given where diffusers would not hand over to it.
    case refinerNeedsSDXLBase(reason: String)

    public var errorDescription: String? {
        switch self {
        case let .missingComponent(path, component):
            return "\(path): pipeline folder has no '\(component)' component"
        case let .imageTooSmall(width, height, multiple):
            return "image of \(width)x\(height) is smaller than the VAE's \(multiple)-pixel multiple"
        case let .maskSizeMismatch(image, mask):
            return "mask is \(mask[0])x\(mask[1]) but the image is \(image[0])x\(image[1])"
        case let .invalidStrength(strength, steps):
            return "strength \(strength) with \(steps) steps leaves no denoising step (needs 0 < strength <= 1)"
        case let .invalidClipSkip(clipSkip, layers):
            return "clip skip \(clipSkip) is outside 0...\(layers), the text encoder's layer count"
        case let .unsupportedUNetChannels(pipeline, channels):
            return "\(pipeline) cannot drive a UNet with \(channels) input channels"
        case let .cancelled(step):
            return "cancelled before step \(step)"
        case let .invalidControlWindow(control, start, end):
            return "control \(control): guidance window \(start)...\(end) is not within 0...1 with start < end"
        case let .invalidNoiseLevel(level, maximum):
            return "noise level \(level) is outside 0...\(maximum), the upscaler's max_noise_level"
        case let .incompatibleAddedConditions(expected, found):
            return "the UNet's add_embedding takes \(expected) values but the pooled text embeddings and time ids make \(found) (check requires_aesthetics_score and text_encoder_2's projection_dim)"
        case let .unsupportedForSDXL(pipeline):
            return "\(pipeline) does not run SDXL models yet (img2img, inpaint and edit do)"
        case let .refinerNeedsSDXLBase(reason):
            return "refiner: \(reason) (a refiner finishes an SDXL base's img2img)"
        case let .incompatibleControlNet(control, reason):
            return "control \(control): ControlNet does not fit the UNet: \(reason)"
        }
    }
}
