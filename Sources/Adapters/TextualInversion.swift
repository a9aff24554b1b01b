import Foundation
import Tensors
import Weights

/// A textual inversion embedding from a `.safetensors` file: the vectors a new prompt token stands
/// for, the token being the file's stem (diffusers' `load_textual_inversion(file, token=stem)`,
/// A1111's embedding name).
///
/// Layouts: one tensor, whatever its name (diffusers' `learned_embeds`, named by its token; kohya's
/// and A1111's `emb_params`; `string_to_param.*`), `[hidden]` or `[vectors, hidden]`. SDXL's pairs
/// (`clip_l` / `clip_g`) are refused, as are files of several tensors.
public struct TextualInversion: Sendable {
    public let path: String
    public let token: String
    // [vectors, hidden]
    public let vectors: Tensor

    public init(url: URL) throws {
        let file = try SafeTensorsFile(url: url)
        let keys = file.keys
        guard keys.count == 1, let key = keys.first else {
            let detail = Set(keys).isSuperset(of: ["clip_g", "clip_l"]) ? "an SDXL embedding (clip_l / clip_g), which needs an SDXL model"
                : "\(keys.count) tensors (\(keys.prefix(3).joined(separator: ", "))), not one embedding"
            throw AdapterError.badEmbedding(path: file.path, detail: detail)
        }
        let tensor = try file.tensor(named: key)
        guard (1...2).contains(tensor.rank), tensor.count > 0 else {
            throw AdapterError.badEmbedding(path: file.path, detail: "'\(key)' has shape \(tensor.shape), not [vectors, width]")
        }
        path = file.path
        token = url.deletingPathExtension().lastPathComponent
        vectors = tensor.rank == 1 ? tensor.reshaped([1, tensor.count]) : tensor
    }
}
