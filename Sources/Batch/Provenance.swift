import Foundation
import Imaging
import Recipes

extension Recipe {
    /// How this recipe's outputs came to be, in IPTC's Digital Source Type vocabulary, or nil
    /// when no edit used a trained model. One term describes a file, so a recipe mixing kinds
    /// takes the strongest: generated content outweighs enhancement.
    ///
    /// - img2img, inpaint and edit (DDIM inversion) regenerate some or all of the photo with a
    ///   diffusion model while keeping parts of it (its composition, the unmasked area):
    ///   `compositeWithTrainedAlgorithmicMedia`, IPTC's "Edited using Generative AI", its
    ///   example inpainting. `trainedAlgorithmicMedia` is for media made wholly by a model,
    ///   which a photo edit never is.
    /// - An SD x4 upscale is a diffusion model too, denoising new detail under a prompt:
    ///   `compositeWithTrainedAlgorithmicMedia`.
    /// - A Real-ESRGAN upscale is a trained network that restores and sharpens what is there
    ///   without a prompt or new content: `algorithmicallyEnhanced` ("modification or
    ///   correction by algorithm without changing the main content").
    /// - fill (Telea, PatchMatch), resize and canny are classical algorithms with no trained
    ///   model: no term and no packet, as the mark would claim a trained model took part.
    var digitalSourceType: DigitalSourceType? {
        let types = edits.compactMap(digitalSourceType(of:))
        return types.contains(.compositeWithTrainedAlgorithmicMedia) ? .compositeWithTrainedAlgorithmicMedia : types.first
    }

    /// The provenance XMP packet of this recipe's outputs, nil when no edit used a trained model.
    /// `output.metadata: strip` writes it too: it says how the pixels were made, not who
    /// took the photo or where, so it is no personal metadata of the input's.
    func provenance(version: String) -> ProvenancePacket? {
        digitalSourceType.map { ProvenancePacket(digitalSourceType: $0, creatorTool: "Overpaint \(version)") }
    }

    private func digitalSourceType(of edit: Edit) -> DigitalSourceType? {
        switch edit {
        case .img2img, .inpaint, .edit: return .compositeWithTrainedAlgorithmicMedia
        case .upscale(let upscale):
            // Resolved as the edit resolves it: a folder is an SD x4 upscaler, a file Real-ESRGAN.
            let path = ModelCache.resolveUpscaler(upscale.model, recipe: source) ?? upscale.model
            var isFolder: ObjCBool = false
            let diffusion = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
            return diffusion ? .compositeWithTrainedAlgorithmicMedia : .algorithmicallyEnhanced
        case .fill, .resize, .canny: return nil
        }
    }
}
