import Foundation
import Tensors
import Weights

/// A textual inversion embedding from a `.safetensors` file: the vectors a new prompt token stands
/// for, the token being the file's stem (diffusers' `load_textual_inversion(file, token=stem)`,
/// A1111's embedding name).
///
/// Layouts: one tensor, whatever its name (diffusers' `learned_embeds`, named by its token; kohya's
/// and A1111's `emb_params`; `string_to_param.*`), `[hidden]` or `[vectors, hidden]`, for SD 1.x /
/// 2.x; or SDXL's pair, `clip_l` for the first text encoder and `clip_g` for the second, which
/// diffusers loads as two `load_textual_inversion` calls, one per tokenizer and text encoder (A1111
/// loads both too). Files of other tensors are refused.
public struct TextualInversion: Sendable {
    public let path: String
    public let token: String
    /// The first text encoder's vectors (an SDXL file's `clip_l`): [vectors, hidden].
    public let vectors: Tensor
    /// An SDXL file's `clip_g`, the second text encoder's vectors: [vectors, hidden]; nil for an
    /// SD 1.x / 2.x embedding, which has one text encoder.
    public let secondEncoderVectors: Tensor?

    /// SDXL's tensor names, as A1111 and diffusers' documentation read them.
    static let sdxlKeys = (first: "clip_l", second: "clip_g")

    public init(url: URL) throws {
        let file = try SafeTensorsFile(url: url)
        let keys = Set(file.keys)
        path = file.path
        token = url.deletingPathExtension().lastPathComponent
        if keys == [Self.sdxlKeys.first, Self.sdxlKeys.second] {
            vectors = try Self.vectors(file, Self.sdxlKeys.first)
            secondEncoderVectors = try Self.vectors(file, Self.sdxlKeys.second)
        } else if keys.count == 1, let key = keys.first {
            vectors = try Self.vectors(file, key)
            secondEncoderVectors = nil
        } else {
            throw AdapterError.badEmbedding(path: file.path, detail: "\(keys.count) tensors (\(file.keys.prefix(3).joined(separator: ", "))), "
                                            + "not one embedding nor SDXL's clip_l and clip_g")
        }
    }

    /// The tensor `key` as [vectors, hidden].
    private static func vectors(_ file: SafeTensorsFile, _ key: String) throws -> Tensor {
        let tensor = try file.tensor(named: key)
        guard (1...2).contains(tensor.rank), tensor.count > 0 else {
            throw AdapterError.badEmbedding(path: file.path, detail: "'\(key)' has shape \(tensor.shape), not [vectors, width]")
        }
        return tensor.rank == 1 ? tensor.reshaped([1, tensor.count]) : tensor
    }
}
