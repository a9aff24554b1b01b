import Foundation
import Tensors

extension StableDiffusion {
    /// One UNet evaluation as a denoising step makes it, for benchmarks: `latents` batched for
    /// guidance when `options` use it, conditioned as the pipelines condition it (for SDXL both
    /// encoders, the pooled embeddings and the time ids of the image `latents` stand for; for a
    /// UNet with a guidance embedding that embedding, unbatched). The prompts are encoded once
    /// and then come from the prompt cache.
    // latents: [1, C, h, w] -> [B, 4, h, w], B = 2 with guidance
    public func evaluateUNet(_ latents: Tensor, timestep: Float, options: GenerationOptions) throws -> Tensor {
        let (options, conditioning) = try guidedConditioning(options, controls: [], width: latents.shape[3] * vaeScaleFactor,
                                                             height: latents.shape[2] * vaeScaleFactor)
        let sample = options.usesGuidance ? Tensor.concatenate([latents, latents], axis: 0) : latents
        return unet(sample: sample, timestep: timestep, conditioning: conditioning, residuals: nil)
    }

    /// Every text encoder on one prompt's tokens (CLIP, and bigG for SDXL), uncached, for benchmarks.
    public func encodePromptUncached(_ prompt: String) {
        _ = textEncoder.promptEmbeddings([tokenizer.encode(prompt)])
        if let sdxl { _ = sdxl.textEncoder2([sdxl.tokenizer2.encode(prompt)]) }
    }
}
