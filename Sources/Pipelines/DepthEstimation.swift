import Foundation
import Imaging
import Models
import Tensors

/// transformers' depth-estimation pipeline with a Depth Anything model, as diffusers' depth
/// ControlNet examples use it: what a `source: estimate` depth control runs on each image.
///
/// The image goes to the processor as PIL's `convert("RGB")` makes it (8 bits, gray repeated,
/// alpha dropped); the predicted depth is resized back to the image
/// (`DepthAnythingImageProcessor.resizedDepth`) and made a control map (`controlImage`).
public struct DepthEstimation: Sendable {
    public let model: DepthAnythingForDepthEstimation
    public let processor: DepthAnythingImageProcessor

    public init(model: DepthAnythingForDepthEstimation, processor: DepthAnythingImageProcessor) {
        self.model = model
        self.processor = processor
    }

    /// Loads a transformers Depth Anything folder: config.json, model.safetensors and, if
    /// present, preprocessor_config.json.
    public init(folder: URL) throws {
        self.init(model: try DepthAnythingForDepthEstimation(folder: folder),
                  processor: try DepthAnythingImageProcessor.load(folder: folder))
    }

    /// The model's `pixel_values` for `image`.
    // -> [1, 3, H, W]
    public func pixelValues(_ image: Imaging.Image) -> Tensor {
        processor.preprocess(rgb: Self.rgb8(image), width: image.width, height: image.height)
    }

    /// The depth map of `image` at its size, near bright, as an 8-bit RGB image.
    public func controlImage(for image: Imaging.Image) -> Imaging.Image {
        Self.controlImage(depth: model(pixelValues(image)), width: image.width, height: image.height)
    }

    /// The image's samples as 8-bit RGB (PIL's `convert("RGB")`: gray repeated, alpha dropped).
    static func rgb8(_ image: Imaging.Image) -> [UInt8] {
        var samples = [UInt8](repeating: 0, count: image.pixelCount * 3)
        for pixel in 0..<image.pixelCount {
            for channel in 0..<3 {
                let source = image.colorChannels == 1 ? 0 : channel
                samples[pixel * 3 + channel] = UInt8(min(max(image.samples[pixel * image.channels + source], 0), 1) * 255 + 0.5)
            }
        }
        return samples
    }

    /// The depth map a depth ControlNet takes, as transformers' depth-estimation pipeline makes
    /// it for diffusers' ControlNet depth examples: the depth resized to the image
    /// (`resizedDepth`), min-max normalised, times 255 truncated to 8 bits, gray in 3 channels.
    /// Near is bright. A constant depth gives a black map.
    // depth: [1, h, w] -> an 8-bit RGB image of width x height
    public static func controlImage(depth: Tensor, width: Int, height: Int) -> Imaging.Image {
        let resized = DepthAnythingImageProcessor.resizedDepth(depth, width: width, height: height).scalars
        let low = resized.min() ?? 0, high = resized.max() ?? 0
        var samples = [Float](repeating: 0, count: width * height * 3)
        if high > low {
            for (pixel, value) in resized.enumerated() {
                let level = (((value - low) / (high - low)) * 255).rounded(.towardZero) / 255
                for channel in 0..<3 { samples[pixel * 3 + channel] = level }
            }
        }
        return Imaging.Image(width: width, height: height, channels: 3, bitDepth: 8, samples: samples)
    }
}
