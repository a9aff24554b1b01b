import Foundation
import Tensors

/// The image processor of Depth Anything checkpoints (transformers' `DPTImageProcessor`, PIL
/// backend), read from `preprocessor_config.json`, on 8-bit RGB samples (the depth
/// estimation pipeline, Pipelines' `DepthEstimation`, makes them from an image), and the
/// resize of a predicted depth back to the image.
///
/// Preprocessing: 8-bit RGB, resized exactly as Pillow resizes 8-bit images (`PillowResize8`)
/// to the size `get_resize_output_image_size` picks, then rescaled to 0...1 and normalised
/// with the mean and std. With `keep_aspect_ratio` the scale of the side whose
/// scale is nearer 1 is used for both, and each side is rounded (half to even) to a multiple
/// of `ensure_multiple_of`; the Depth Anything configs ask for 518 and 14, so a photo larger
/// than 518 has its shorter side brought to about 518.
///
/// Limitations: no `do_pad` (`size_divisor` padding), which Depth Anything does not use.
public struct DepthAnythingImageProcessor: KeyedConfig, Sendable, Equatable {
    public struct Size: Codable, Sendable, Equatable {
        public var height: Int
        public var width: Int
    }

    public var doResize = true
    public var size = Size(height: 384, width: 384)
    public var keepAspectRatio = false
    public var ensureMultipleOf = 1
    /// Pillow's resampling id: 1 Lanczos, 2 bilinear, 3 bicubic (0, nearest, is not supported).
    public var resample = 3
    public var doRescale = true
    public var rescaleFactor: Double = 1.0 / 255
    public var doNormalize = true
    public var imageMean: [Double] = [0.5, 0.5, 0.5]
    public var imageStd: [Double] = [0.5, 0.5, 0.5]
    public var doPad = false

    /// The DPT processor's class defaults (what a config file leaves out).
    public init() {}

    /// The processor config the Depth Anything V1 and V2 checkpoints ship: 518, aspect kept,
    /// multiples of 14, bicubic, ImageNet mean and std.
    public static var depthAnything: DepthAnythingImageProcessor {
        var processor = DepthAnythingImageProcessor()
        processor.size = Size(height: 518, width: 518)
        processor.keepAspectRatio = true
        processor.ensureMultipleOf = 14
        processor.imageMean = [0.485, 0.456, 0.406]
        processor.imageStd = [0.229, 0.224, 0.225]
        return processor
    }

    public static var keys: [ConfigKey<Self>] {
        [
            .key("do_resize", \.doResize),
            .key("size", \.size),
            .key("keep_aspect_ratio", \.keepAspectRatio),
            .key("ensure_multiple_of", \.ensureMultipleOf),
            .key("resample", \.resample),
            .key("do_rescale", \.doRescale),
            .key("rescale_factor", \.rescaleFactor),
            .key("do_normalize", \.doNormalize),
            .key("image_mean", \.imageMean),
            .key("image_std", \.imageStd),
            .key("do_pad", \.doPad),
        ]
    }

    /// `folder/preprocessor_config.json`, or the Depth Anything defaults when the folder has none.
    public static func load(folder: URL) throws -> DepthAnythingImageProcessor {
        let url = folder.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return .depthAnything }
        let processor: DepthAnythingImageProcessor
        do {
            processor = try JSONDecoder().decode(DepthAnythingImageProcessor.self, from: Data(contentsOf: url))
        } catch {
            throw ModelsError.badConfig(path: url.path, detail: String(describing: error))
        }
        if let problem = processor.unsupportedFeature { throw ModelsError.unsupportedConfig(path: url.path, detail: problem) }
        return processor
    }

    var unsupportedFeature: String? {
        if doPad { return "do_pad" }
        if filter == nil { return "resample \(resample)" }
        if imageMean.count != 3 || imageStd.count != 3 || imageStd.contains(0) { return "image_mean/image_std need 3 non-zero entries" }
        if size.height < 1 || size.width < 1 || ensureMultipleOf < 1 { return "size \(size.height)x\(size.width), ensure_multiple_of \(ensureMultipleOf)" }
        return nil
    }

    var filter: PillowResize8.Filter? {
        switch resample {
        case 1: return .lanczos
        case 2: return .bilinear
        case 3: return .bicubic
        default: return nil
        }
    }

    /// transformers' `get_resize_output_image_size` for an input of `width` x `height`.
    public func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard doResize else { return (width, height) }
        var scaleHeight = Double(size.height) / Double(height)
        var scaleWidth = Double(size.width) / Double(width)
        if keepAspectRatio {
            if abs(1 - scaleWidth) < abs(1 - scaleHeight) { scaleHeight = scaleWidth } else { scaleWidth = scaleHeight }
        }
        return (constrained(scaleWidth * Double(width)), constrained(scaleHeight * Double(height)))
    }

    /// transformers' `constrain_to_multiple_of` as the resize calls it (no bounds): Python's round, half to even.
    private func constrained(_ value: Double) -> Int {
        let multiple = Double(ensureMultipleOf)
        return Int((value / multiple).rounded(.toNearestOrEven) * multiple)
    }

    /// The model's `pixel_values` for an image of `width` x `height` given as 8-bit RGB
    /// samples (PIL's `convert("RGB")`), interleaved.
    // rgb: [height, width, 3] -> [1, 3, H, W]
    public func preprocess(rgb: [UInt8], width: Int, height: Int) -> Tensor {
        var (rgb, width, height) = (rgb, width, height)
        let target = outputSize(width: width, height: height)
        if doResize, let filter, (target.width, target.height) != (width, height) {
            rgb = PillowResize8.resize(rgb, width: width, height: height, channels: 3, outWidth: target.width,
                                       outHeight: target.height, filter: filter)
            (width, height) = target
        }
        let plane = width * height
        let scale = doRescale ? rescaleFactor : 1
        let mean = doNormalize ? imageMean : [0, 0, 0]
        let std = doNormalize ? imageStd : [1, 1, 1]
        return Tensor(shape: [1, 3, height, width]) { out in
            for pixel in 0..<plane {
                for channel in 0..<3 {
                    let value = Double(rgb[pixel * 3 + channel]) * scale
                    out[channel * plane + pixel] = Float((value - mean[channel]) / std[channel])
                }
            }
        }
    }

    /// transformers' `post_process_depth_estimation`: the depth resized bicubically
    /// (align_corners=False) to `width` x `height`.
    // depth: [1, h, w] -> [height, width]
    public static func resizedDepth(_ depth: Tensor, width: Int, height: Int) -> Tensor {
        let planes = depth.reshaped([1, 1, depth.shape[depth.rank - 2], depth.shape[depth.rank - 1]])
        return TorchInterpolate.bicubic(planes, height: height, width: width).reshaped([height, width])
    }
}
