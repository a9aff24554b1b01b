import Foundation
import Weights

/// An SDXL checkpoint in the A1111 / Civitai single-file layout, recognised from its keys
/// alone: the text encoders under `conditioner.embedders.*`, the UNet under
/// `model.diffusion_model.*`.
///
/// As diffusers' `infer_diffusers_model_type`: OpenCLIP bigG as embedder 1 (CLIP-L as 0) is the
/// base, bigG as embedder 0 alone the refiner; a base whose `conv_in` takes 9 channels is the
/// inpainting model.
struct SDXLSingleFile {
    /// CLIP-L's prefix (`conditioner.embedders.0.transformer.`), nil for the refiner.
    let clipPrefix: String?
    /// OpenCLIP bigG's prefix.
    let openCLIPPrefix: String
    let classification: ModelInspector.Classification

    static let convIn = LDMPrefix.unet + "input_blocks.0.0.weight"
    static let context = LDMPrefix.unet + "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"

    /// nil when the file is not an SDXL single file.
    init?(_ file: SafeTensorsFile) {
        let keys = file.keys
        func any(_ prefix: String) -> Bool { keys.contains { $0.hasPrefix(prefix) } }
        let entries = file.header.entries
        let inputChannels = entries[Self.convIn].flatMap { $0.shape.count > 1 ? $0.shape[1] : nil }
        let context = entries[Self.context]?.shape.last.map { ", cross-attention width \($0)" } ?? ""
        if any(LDMPrefix.sdxlOpenCLIP) {
            (clipPrefix, openCLIPPrefix) = (any(LDMPrefix.sdxlCLIP) ? LDMPrefix.sdxlCLIP : nil, LDMPrefix.sdxlOpenCLIP)
            let inpainting = inputChannels == 9
            classification = ModelInspector.Classification(
                family: inpainting ? .sdxlInpainting : .sdxl, generation: .sdxl,
                basis: "OpenCLIP bigG as conditioner.embedders.1\(context)\(inpainting ? ", 9-channel conv_in" : "")")
        } else if any(LDMPrefix.refinerOpenCLIP) {
            (clipPrefix, openCLIPPrefix) = (nil, LDMPrefix.refinerOpenCLIP)
            classification = ModelInspector.Classification(
                family: .sdxlRefiner, generation: .sdxlRefiner,
                basis: "OpenCLIP bigG alone as conditioner.embedders.0\(context)")
        } else {
            return nil
        }
    }
}
