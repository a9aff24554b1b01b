import Foundation
import Weights

/// A model component saved the way `save_pretrained` writes it: a folder with `config.json`
/// beside its weights.
///
/// Every model loads the same way: `init(config:source:)` reads each tensor through a
/// `Parameters` view, which checks its name and shape, and ends with `checkAllUsed()`, so a
/// checkpoint with a missing, mis-shaped or unexpected tensor fails with a `ModelsError`
/// naming the file and the tensor.
public protocol PretrainedModel {
    associatedtype Config: ModelConfig

    /// Builds the model from `config` and weights with the reference's key names, strictly.
    init(config: Config, source: any ParameterSource) throws
}

extension PretrainedModel {
    /// Loads `folder/config.json` and the folder's weights (one safetensors file or a sharded
    /// index), strictly.
    public init(folder: URL) throws {
        let config = try Config.load(from: folder.appendingPathComponent("config.json"))
        try self.init(config: config, source: WeightStore(url: folder))
    }
}
