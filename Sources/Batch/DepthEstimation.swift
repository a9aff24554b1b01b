import Foundation
import Imaging
import Models

/// A depth model with its image processor: what `control: [{type: depth, source: estimate}]`
/// runs on each image to make the depth ControlNet's map.
struct DepthEstimator {
    let model: DepthAnythingForDepthEstimation
    let processor: DepthAnythingImageProcessor

    /// Loads a transformers Depth Anything folder (config.json, model.safetensors and, if
    /// present, preprocessor_config.json); errors are one line naming the folder.
    init(folder path: String) throws {
        let folder = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            throw BatchError.image("depth_model '\(path)' is not a folder (a transformers Depth Anything model: config.json and model.safetensors)")
        }
        do {
            model = try DepthAnythingForDepthEstimation(folder: folder)
            processor = try DepthAnythingImageProcessor.load(folder: folder)
        } catch {
            throw BatchError.image("depth_model '\(path)': \(error.localizedDescription)")
        }
    }

    /// The depth map of `image` at its size, near bright, as an 8-bit RGB image (the
    /// convention of transformers' depth-estimation pipeline that diffusers' depth examples use).
    func controlImage(for image: Image) -> Image {
        let depth = model(processor.preprocess(image))
        return DepthAnythingImageProcessor.controlImage(depth: depth, width: image.width, height: image.height)
    }
}

/// Depth models loaded once per run and shared by every image.
final class DepthEstimatorCache {
    private var estimators: [String: DepthEstimator] = [:]

    func estimator(at path: String) throws -> DepthEstimator {
        if let loaded = estimators[path] { return loaded }
        let loaded = try DepthEstimator(folder: path)
        estimators[path] = loaded
        return loaded
    }

    /// The estimated depth map of `image` for a `source: estimate` control of job `input`.
    func controlImage(for image: Image, depthModel: String?, input: String) throws -> Image {
        guard let depthModel else { throw BatchError.image("\(input): source: estimate needs depth_model") }
        let loaded: DepthEstimator
        do { loaded = try estimator(at: depthModel) } catch {
            throw BatchError.image("\(input): \(error.localizedDescription)")
        }
        return loaded.controlImage(for: image)
    }
}
