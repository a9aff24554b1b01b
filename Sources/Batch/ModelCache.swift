import Foundation
import Pipelines

/// Models loaded once per run and shared by every image: loading SD 1.5 costs seconds and
/// gigabytes, an image should not pay it again.
final class ModelCache {
    private var pipelines: [String: StableDiffusion] = [:]

    func stableDiffusion(at path: String) throws -> StableDiffusion {
        if let loaded = pipelines[path] { return loaded }
        let loaded = try StableDiffusion(folder: URL(fileURLWithPath: path))
        pipelines[path] = loaded
        return loaded
    }
}
