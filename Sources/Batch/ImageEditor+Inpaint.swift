import Foundation
import Imaging
import Pipelines
import Recipes

extension ImageEditor {
    /// Regenerates the masked region, over the whole image or (`area: masked`) over a crop
    /// around the mask as A1111's "Only masked"; `fill` picks what the masked region starts
    /// from; `control` maps (Canny of the input, or the job's file) condition it as diffusers'
    /// StableDiffusionControlNetInpaintPipeline. With `mask_blur` the seam is blended through the blurred mask, and wherever that
    /// mask is 0 the input is kept exactly.
    func inpaint(_ image: Image, _ inpaint: Edit.Inpaint, maskImage: Image?, job: Job) throws -> Image {
        guard let model = inpaint.generation.model else { throw BatchError.image("\(job.input): inpaint needs a model") }
        let mask = try loadMask(maskImage, job: job, fitting: image, resize: inpaint.resizeMask).grown(by: inpaint.maskGrow)
        let (pipeline, options) = try prepared(inpaint.generation, model: model, job: job)
        let fill = InpaintFill(inpaint.fill)
        let controls = try controls(inpaint.generation.control, for: image, job: job)
        let seam = inpaint.maskBlur > 0 ? mask.blurred(radius: Double(inpaint.maskBlur)) : mask
        let handOver = try refinerHandOver(inpaint.generation)
        switch inpaint.area {
        case .whole:
            let generated = try pipeline.inpaint(image, mask: mask, options: options, fill: fill, controls: controls,
                                                 refiner: handOver, pasteBack: false, progress: progress)
            return try StableDiffusion.pasteBack(generated, onto: image, mask: seam)
        case .masked:
            return try pipeline.inpaintMaskedArea(image, mask: mask, seam: seam, padding: inpaint.padding,
                                                  width: inpaint.width, height: inpaint.height, options: options,
                                                  fill: fill, controls: controls, refiner: handOver, progress: progress)
        }
    }
}

extension InpaintFill {
    /// The recipe's `fill:` (RECIPES.md spells latent noise `noise`).
    init(_ mode: Edit.Inpaint.FillMode) {
        switch mode {
        case .original: self = .original
        case .fill: self = .fill
        case .noise: self = .latentNoise
        case .latentNothing: self = .latentNothing
        }
    }
}
