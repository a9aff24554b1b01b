import Foundation
import Imaging
import Models
import Tensors

/// One ControlNet of a ControlNet pipeline with its control map: an entry of diffusers'
/// `controlnet` list with the matching `control_image`, `controlnet_conditioning_scale`,
/// `control_guidance_start` and `control_guidance_end`.
public struct ControlInput: Sendable {
    public let model: ControlNetModel
    /// The control map (Canny edges, depth, ...) in 0...1; gray maps are used as RGB.
    public var condition: Imaging.Image
    /// diffusers' `controlnet_conditioning_scale`.
    public var scale: Float
    /// The fraction of the steps after which the ControlNet starts to act.
    public var start: Double
    /// The fraction of the steps after which it stops.
    public var end: Double

    public init(model: ControlNetModel, condition: Imaging.Image, scale: Float = 1, start: Double = 0,
                end: Double = 1) {
        self.model = model
        self.condition = condition
        self.scale = scale
        self.start = start
        self.end = end
    }

    /// Loads a diffusers ControlNet folder, to be shared by the controls of every image.
    public static func loadModel(folder: URL) throws -> ControlNetModel {
        try ControlNetModel(folder: folder)
    }

    /// diffusers' `controlnet_keep[i]` times the conditioning scale: 0 outside the window
    /// (`i / n < start or (i + 1) / n > end`, in double precision as Python divides).
    func effectiveScale(step: Int, of count: Int) -> Float {
        let outside = Double(step) / Double(count) < start || Double(step + 1) / Double(count) > end
        return outside ? 0 : scale
    }

    /// diffusers' control_image_processor (`VaeImageProcessor(do_convert_rgb=True,
    /// do_normalize=False)`): the map as `ImageConversion.rgbTensor` makes it, left in 0...1.
    // -> [1, 3, height, width]
    func conditionTensor(width: Int, height: Int) -> Tensor {
        ImageConversion.rgbTensor(condition, width: width, height: height)
    }

    /// The window check of diffusers' `check_inputs`, and the shapes the UNet needs from the
    /// ControlNet's residuals (its own preconditions would stop the process otherwise).
    /// `sampleChannels`: what the ControlNet is fed (the UNet's input channels, or the latent
    /// channels alone beside a 9-channel inpainting UNet).
    func validate(index: Int, unet: UNet2DConditionModel, textDimension: Int, pixelsPerLatent: Int,
                  sampleChannels: Int? = nil) throws {
        guard start >= 0, end <= 1, start < end else {
            throw PipelinesError.invalidControlWindow(control: index, start: start, end: end)
        }
        let config = model.config, unetConfig = unet.config
        let blocks = unetConfig.blockOutChannels.count
        let problem: String? =
            config.inChannels != (sampleChannels ?? unetConfig.inChannels)
                ? "\(config.inChannels) input channels, the UNet's latents \(sampleChannels ?? unetConfig.inChannels)"
            : config.blockOutChannels != unetConfig.blockOutChannels ? "block channels \(config.blockOutChannels), the UNet \(unetConfig.blockOutChannels)"
            : config.downBlockTypes != unetConfig.downBlockTypes ? "down blocks \(config.downBlockTypes), the UNet \(unetConfig.downBlockTypes)"
            : unetConfig.layersPerBlock.values(count: blocks) != [Int](repeating: config.layersPerBlock, count: blocks)
                ? "\(config.layersPerBlock) layers per block, unlike the UNet"
            : config.crossAttentionDim != textDimension ? "cross-attention width \(config.crossAttentionDim), the text encoder \(textDimension)"
            : (model.addEmbedding == nil) != (unet.addEmbedding == nil)
                ? "text_time added embeddings (SDXL) on \(model.addEmbedding == nil ? "the UNet" : "the ControlNet") only"
            : config.conditioningChannels != 3 ? "\(config.conditioningChannels) conditioning channels, not RGB"
            : model.conditioningEmbedding.downscaleFactor != pixelsPerLatent
                ? "a \(model.conditioningEmbedding.downscaleFactor)x control embedding, the VAE \(pixelsPerLatent)x"
            : nil
        if let problem { throw PipelinesError.incompatibleControlNet(control: index, reason: problem) }
    }
}
