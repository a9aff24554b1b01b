import Foundation
import Imaging

/// AUTOMATIC1111's "Only masked" inpainting (`inpaint_full_res`): the crop region around the
/// mask, as its `masking.get_crop_region` and `masking.expand_crop_region` compute it.
public enum MaskedAreaCrop {
    /// The bounding box of the marked pixels grown by `padding` and clamped to the mask
    /// (`get_crop_region`), then widened (or heightened) about its centre to the aspect ratio
    /// of `width` x `height`, shifted back inside the image and clamped to it
    /// (`expand_crop_region`); nil when nothing is marked. Near a border the clamp can leave
    /// the box off the aspect ratio: the crop is then stretched to the working size.
    public static func region(of mask: Mask, padding: Int, width: Int, height: Int) -> Mask.Box? {
        guard let box = mask.boundingBox(padding: padding) else { return nil }
        return expanded(box, toAspectOf: width, height, imageWidth: mask.width, imageHeight: mask.height)
    }

    /// `expand_crop_region` on `[x1, x2)` x `[y1, y2)`, with Python's float ratio, `int()`
    /// truncation and floor division.
    static func expanded(_ box: Mask.Box, toAspectOf width: Int, _ height: Int,
                         imageWidth: Int, imageHeight: Int) -> Mask.Box {
        let cropRatio = Double(box.width) / Double(box.height)
        let processingRatio = Double(width) / Double(height)
        if cropRatio > processingRatio {
            let desired = Double(box.width) / processingRatio
            let (y1, y2) = grown(box.y, box.y + box.height, by: Int(desired - Double(box.height)), limit: imageHeight)
            return Mask.Box(x: box.x, y: y1, width: box.width, height: y2 - y1)
        }
        let desired = Double(box.height) * processingRatio
        let (x1, x2) = grown(box.x, box.x + box.width, by: Int(desired - Double(box.width)), limit: imageWidth)
        return Mask.Box(x: x1, y: box.y, width: x2 - x1, height: box.height)
    }

    /// One axis of `expand_crop_region`: half the growth before, the rest after, then shifted
    /// back inside `0..<limit` and clamped.
    private static func grown(_ start: Int, _ end: Int, by difference: Int, limit: Int) -> (Int, Int) {
        var (low, high) = (start - floorHalf(difference), end + difference - floorHalf(difference))
        if high >= limit {
            low -= high - limit
            high = limit
        }
        if low < 0 {
            high -= low
            low = 0
        }
        return (low, min(high, limit))
    }

    private static func floorHalf(_ value: Int) -> Int {
        value >= 0 ? value / 2 : -((-value + 1) / 2)
    }
}

extension StableDiffusion {
    /// Inpainting of only the masked area (A1111's "Only masked" with `padding`): the crop
    /// region of `seam` (`MaskedAreaCrop.region`, aspect of the working size) is cut out,
    /// Lanczos-resized to the working size, inpainted as `inpaint(_:mask:options:fill:)` does
    /// with `mask` cropped and resized alike, resized back into the region and composited
    /// through `seam` (`pasteBack`): wherever `seam` is 0 the input is kept exactly.
    ///
    /// `seam` is the mask the result is pasted through (the blurred `mask`, or `mask` itself):
    /// its marked pixels define the region, so the whole seam has generated pixels under it.
    /// `width`/`height` default to the VAE's `sample_size` (512 for Stable Diffusion 1.x).
    /// Each control map is cropped to the same region (scaled to the map's size when it has
    /// another). An empty `seam` returns the input unchanged.
    public func inpaintMaskedArea(_ image: Imaging.Image, mask: Mask, seam: Mask, padding: Int,
                                  width: Int? = nil, height: Int? = nil, options: GenerationOptions,
                                  fill: InpaintFill = .original, controls: [ControlInput] = [],
                                  refiner: RefinerHandOver? = nil, progress: StepCallback? = nil) throws -> Imaging.Image {
        for other in [mask, seam] where other.width != image.width || other.height != image.height {
            throw PipelinesError.maskSizeMismatch(image: [image.width, image.height], mask: [other.width, other.height])
        }
        let size = (width: width ?? vae.config.sampleSize, height: height ?? vae.config.sampleSize)
        guard let box = MaskedAreaCrop.region(of: seam, padding: padding, width: size.width, height: size.height) else {
            return image
        }
        let crop = image.cropped(to: box).resized(width: size.width, height: size.height, filter: .lanczos3)
        let cropMask = Mask(mask.image.cropped(to: box).resized(width: size.width, height: size.height, filter: .lanczos3))
        let croppedControls = controls.map { control in
            var cropped = control
            cropped.condition = control.condition.cropped(to: box.scaled(from: image, to: control.condition))
            return cropped
        }
        let generated = try inpaint(crop, mask: cropMask, options: options, fill: fill, controls: croppedControls,
                                    refiner: refiner, pasteBack: false, progress: progress)
        let patch = generated.resized(width: box.width, height: box.height, filter: .lanczos3)
        return try Self.pasteBack(image.replacing(box, with: patch), onto: image, mask: seam)
    }
}

extension Mask.Box {
    /// This box of `image` mapped onto `other` (a control map of another size), kept inside it.
    func scaled(from image: Imaging.Image, to other: Imaging.Image) -> Mask.Box {
        guard image.width != other.width || image.height != other.height else { return self }
        let (sx, sy) = (Double(other.width) / Double(image.width), Double(other.height) / Double(image.height))
        let x0 = min(Int(Double(x) * sx), other.width - 1), y0 = min(Int(Double(y) * sy), other.height - 1)
        let x1 = max(min(Int((Double(x + width) * sx).rounded()), other.width), x0 + 1)
        let y1 = max(min(Int((Double(y + height) * sy).rounded()), other.height), y0 + 1)
        return Mask.Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}

extension Imaging.Image {
    /// The pixels inside `box` (which lies within the image).
    func cropped(to box: Mask.Box) -> Imaging.Image {
        var result = Imaging.Image(width: box.width, height: box.height, channels: channels, bitDepth: bitDepth)
        let rowLength = box.width * channels
        for row in 0..<box.height {
            let source = ((box.y + row) * width + box.x) * channels
            result.samples.replaceSubrange(row * rowLength..<(row + 1) * rowLength,
                                           with: samples[source..<source + rowLength])
        }
        return result
    }

    /// This image with `patch` (of `box`'s size) written over `box`, converted to the patch's
    /// colour layout (RGB) so `pasteBack` can read it.
    func replacing(_ box: Mask.Box, with patch: Imaging.Image) -> Imaging.Image {
        var result = Imaging.Image(width: width, height: height, channels: patch.channels, bitDepth: patch.bitDepth)
        for pixel in 0..<pixelCount {
            for channel in 0..<patch.channels {
                let sourceChannel = colorChannels == 1 ? 0 : min(channel, colorChannels - 1)
                result.samples[pixel * patch.channels + channel] = samples[pixel * channels + sourceChannel]
            }
        }
        let rowLength = box.width * patch.channels
        for row in 0..<box.height {
            let target = ((box.y + row) * width + box.x) * patch.channels
            result.samples.replaceSubrange(target..<target + rowLength,
                                           with: patch.samples[row * rowLength..<(row + 1) * rowLength])
        }
        return result
    }
}
