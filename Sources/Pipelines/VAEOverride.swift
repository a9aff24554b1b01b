import Foundation
import Models
import Weights

extension StableDiffusion {
    /// This pipeline with its VAE replaced by the one at `url` (the recipe's `vae:`, A1111's
    /// "SD VAE"): a diffusers `AutoencoderKL` folder with its own config, or one `.safetensors` VAE
    /// (`SingleFileVAE`), which is read with this pipeline's VAE config as A1111 reads it.
    public func replacingVAE(with url: URL) throws -> StableDiffusion {
        var isFolder: ObjCBool = false
        let replacement: AutoencoderKL
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            replacement = try AutoencoderKL(folder: url)
        } else {
            replacement = try AutoencoderKL(config: vae.config, source: SingleFileVAE.source(SafeTensorsFile(url: url)))
        }
        return StableDiffusion(tokenizer: tokenizer, textEncoder: textEncoder, unet: unet, vae: replacement,
                               schedulerConfig: schedulerConfig)
    }
}
