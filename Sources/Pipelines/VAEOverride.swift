import Foundation
import Models
import Weights

extension StableDiffusion {
    /// This pipeline with its VAE replaced by the one at `url` (the recipe's `vae:`, A1111's
    /// "SD VAE"): a diffusers `AutoencoderKL` folder with its own config, a diffusers
    /// `AutoencoderTiny` folder (TAESD / TAESDXL, told by its config's `_class_name`), or one
    /// `.safetensors` VAE (`SingleFileVAE`), which is read with this pipeline's VAE config as
    /// A1111 reads it.
    public func replacingVAE(with url: URL) throws -> StableDiffusion {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            let replacement = try AutoencoderKL(config: vae.config, source: SingleFileVAE.source(SafeTensorsFile(url: url)))
            return replacing(autoencoders: (replacement, nil))
        }
        guard Self.isTinyAutoencoder(url) else {
            return replacing(autoencoders: (try checkedLatents(AutoencoderKL(folder: url), at: url), nil))
        }
        let tiny = try AutoencoderTiny(folder: url)
        guard tiny.config.latentChannels == vae.config.latentChannels, tiny.downscaleFactor == vaeScaleFactor else {
            throw ModelsError.unsupportedConfig(path: url.path, detail: "a tiny autoencoder of \(tiny.config.latentChannels) "
                + "latent channels at 1/\(tiny.downscaleFactor) scale; this model's latents have \(vae.config.latentChannels) at 1/\(vaeScaleFactor)")
        }
        // the model's VAE still gives the latent shape and sizes
        return replacing(autoencoders: (vae, tiny))
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
