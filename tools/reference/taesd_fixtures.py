"""Fixtures for `vae: taesd`: a tiny random diffusers AutoencoderTiny (TAESD's architecture,
madebyollin/taesd, with fewer channels and blocks) and diffusers with it.

Writes Tests/Fixtures/taesd/:
  taesd/               an AutoencoderTiny folder: 16 channels, one block a level (seeded weights,
                       rounded to f16); its config keeps TAESD's four levels (8x) and 4 latents
  io.safetensors       `input`: pipelines/input.png resized to 64x64 as VaeImageProcessor prepares
                       it ([-1, 1]); `encoded`: AutoencoderTiny.encode(input).latents; `decoded`:
                       AutoencoderTiny.decode(encoded).sample
  img2img_taesd.png    StableDiffusionImg2ImgPipeline on sd-tiny with vae=AutoencoderTiny (CASE):
                       the encoder's latents are used as they are (retrieve_latents takes `.latents`,
                       drawing nothing from the generator) and scaling_factor is 1
  img2img_taesd_decoder.png
                       the same with sd-tiny's own AutoencoderKL encoding (output_type="latent") and
                       AutoencoderTiny decoding those latents: `vae: taesd` with `vae_encoder: full`,
                       A1111's "VAE type for encode: Full" with "for decode: TAESD"
  inpaint_fast.png     StableDiffusionInpaintPipeline on sd-tiny's 9-channel UNet (pipelines/unet-inpaint)
                       with vae=AutoencoderTiny and LCMScheduler.from_config: recipes/bulk-inpaint-fast.yaml's
                       settings (FAST_INPAINT) on pipelines/input.png and mask.png
  inpaint_fast_taesd_decoder.png
                       the same with sd-tiny's AutoencoderKL encoding and AutoencoderTiny decoding
                       (that recipe with `vae_encoder: full`)
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/taesd_fixtures.py
"""
import shutil

import torch
from diffusers import AutoencoderTiny, LCMScheduler, StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline
from diffusers.image_processor import VaeImageProcessor
from PIL import Image
from safetensors.torch import save_file

from tiny_models import FIXTURES, PIPELINES, round_to_half, save_half, sd_tiny_components

OUT = FIXTURES / "taesd"
CASE = dict(prompt="an astronaut in a garden, oil painting", strength=0.75, num_inference_steps=6,
            guidance_scale=7.5, seed=42)
FAST_INPAINT = dict(prompt="empty background, natural light, photo", strength=1.0, num_inference_steps=4,
                    guidance_scale=1.0, seed=7)


def tiny_autoencoder():
    torch.manual_seed(11)
    model = AutoencoderTiny(encoder_block_out_channels=(16, 16, 16, 16), decoder_block_out_channels=(16, 16, 16, 16),
                            num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), latent_channels=4)
    return round_to_half(model.eval())


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    model = tiny_autoencoder()
    save_half(model, OUT / "taesd")

    image = Image.open(PIPELINES / "input.png").convert("RGB")
    pixels = VaeImageProcessor(vae_scale_factor=8).preprocess(image, height=64, width=64)
    with torch.no_grad():
        encoded = model.encode(pixels).latents
        decoded = model.decode(encoded).sample
    save_file({"input": pixels.contiguous(), "encoded": encoded.contiguous(), "decoded": decoded.contiguous()},
              OUT / "io.safetensors")

    def img2img(vae, output_type="pil"):
        pipe = StableDiffusionImg2ImgPipeline(**{**sd_tiny_components(), **vae})
        return pipe(prompt=CASE["prompt"], image=image, strength=CASE["strength"],
                    num_inference_steps=CASE["num_inference_steps"], guidance_scale=CASE["guidance_scale"],
                    generator=torch.Generator("cpu").manual_seed(CASE["seed"]), output_type=output_type).images

    img2img({"vae": model})[0].save(OUT / "img2img_taesd.png")
    decoded_by(model, img2img({}, output_type="latent")).save(OUT / "img2img_taesd_decoder.png")

    mask = Image.open(PIPELINES / "mask.png").convert("L")

    def inpaint(vae, output_type="pil"):
        parts = {**sd_tiny_components("unet-inpaint"), **vae}
        parts["scheduler"] = LCMScheduler.from_config(parts["scheduler"].config)
        return StableDiffusionInpaintPipeline(**parts)(
            prompt=FAST_INPAINT["prompt"], image=image, mask_image=mask, strength=FAST_INPAINT["strength"],
            num_inference_steps=FAST_INPAINT["num_inference_steps"], guidance_scale=FAST_INPAINT["guidance_scale"],
            generator=torch.Generator("cpu").manual_seed(FAST_INPAINT["seed"]), output_type=output_type).images

    inpaint({"vae": model})[0].save(OUT / "inpaint_fast.png")
    decoded_by(model, inpaint({}, output_type="latent")).save(OUT / "inpaint_fast_taesd_decoder.png")


def decoded_by(tiny, latents):
    """The pipeline's own decode and postprocess, with `tiny` in place of the VAE that encoded:
    `vae.decode(latents / scaling_factor)` (TAESD's is 1), then VaeImageProcessor to 8 bits."""
    with torch.no_grad():
        decoded = tiny.decode(latents / tiny.config.scaling_factor).sample
    return VaeImageProcessor(vae_scale_factor=8).postprocess(decoded, output_type="pil")[0]


if __name__ == "__main__":
    main()
