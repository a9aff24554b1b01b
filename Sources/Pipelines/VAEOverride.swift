import Foundation
import Models
import Weights

extension StableDiffusion {
    /// This pipeline with its VAE replaced by the one at `url` (the recipe's `vae:`, A1111's
    /// "SD VAE"): a diffusers `AutoencoderKL` folder with its own config, a diffusers
    /// `AutoencoderTiny` folder (TAESD / TAESDXL, told by its config's `_class_name`), or one
    /// `.safetensors` VAE (`SingleFileVAE`), which is read with this pipeline's VAE config as
    /// A1111 reads it. A tiny autoencoder encodes too unless `tinyEncodes` is false
    /// (`vae_encoder: full`); a full VAE refuses `tinyEncodes: true`.
    public func replacingVAE(with url: URL, tinyEncodes: Bool? = nil) throws -> StableDiffusion {
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        let isTiny = exists && isFolder.boolValue && Self.isTinyAutoencoder(url)
        if tinyEncodes == true, exists, !isTiny {
            throw ModelsError.unsupportedConfig(path: url.path, detail: "not a tiny autoencoder (AutoencoderTiny), "
                + "which vae_encoder: tiny needs")
        }
        guard isFolder.boolValue else {
            let replacement = try AutoencoderKL(config: vae.config, source: SingleFileVAE.source(SafeTensorsFile(url: url)))
            return replacing(autoencoders: (replacement, nil, false))
        }
        guard isTiny else {
            return replacing(autoencoders: (try checkedLatents(AutoencoderKL(folder: url), at: url), nil, false))
        }
        let tiny = try AutoencoderTiny(folder: url)
        guard tiny.config.latentChannels == vae.config.latentChannels, tiny.downscaleFactor == vaeScaleFactor else {
            throw ModelsError.unsupportedConfig(path: url.path, detail: "a tiny autoencoder of \(tiny.config.latentChannels) "
                + "latent channels at 1/\(tiny.downscaleFactor) scale; this model's latents have \(vae.config.latentChannels) at 1/\(vaeScaleFactor)")
        }
        // the model's VAE still gives the latent shape and sizes, and encodes when told to
        return replacing(autoencoders: (vae, tiny, tinyEncodes ?? true))
    }

    /// `replacement` when its latents have this model's channels.
    private func checkedLatents(_ replacement: AutoencoderKL, at url: URL) throws -> AutoencoderKL {
        guard replacement.config.latentChannels == vae.config.latentChannels else {
            throw ModelsError.unsupportedConfig(path: url.path, detail: "a VAE of \(replacement.config.latentChannels) latent "
                + "channels; this model's latents have \(vae.config.latentChannels)")
        }
        return replacement
    }

    /// Whether the folder's `config.json` names diffusers' `AutoencoderTiny`.
    public static func isTinyAutoencoder(_ folder: URL) -> Bool {
        struct ClassName: Decodable {
            var name: String?
            enum CodingKeys: String, CodingKey { case name = "_class_name" }
        }
        let config = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: config.path) else { return false }
        return (try? JSONDecoder().decode(ClassName.self, from: data))?.name == "AutoencoderTiny"
    }
}
