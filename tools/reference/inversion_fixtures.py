"""Parity fixtures for the `edit` recipe (DDIM inversion, then regeneration) on the tiny
pipeline that tools/reference/pipeline_fixtures.py wrote.

RECIPES.md's reference, spelled out:
  1. latents = vae.encode(preprocess(image)).latent_dist.mean * scaling_factor
  2. inverted with DDIMInverseScheduler.from_config(pipe.scheduler.config) over `steps`,
     conditioned on `source_prompt` without classifier-free guidance (guidance 1)
  3. StableDiffusionPipeline with DDIMScheduler.from_config(pipe.scheduler.config), `prompt`,
     `guidance`, `steps`, latents=the inverted latents (times init_noise_sigma, 1 for DDIM)

Reads Tests/Fixtures/pipelines/{sd-tiny, input.png} and Tests/Fixtures/clip-tokenizer.
Writes Tests/Fixtures/pipelines/inversion_<case>.png and inversion_cases.json (only those;
the other fixtures are left as they are). Each case's PSNR against the input, and against the
VAE round trip (decode(encode(input).mean): the tiny VAE is random, so that round trip is
the most a reconstruction can reach), is printed and stored in inversion_cases.json.
Deterministic: re-running rewrites identical files.

With a ControlNet (CONTROL_CASE): step 3 is StableDiffusionControlNetPipeline instead, with
controlnet_tiny/ (controlnet_pipeline_fixtures.py) and the Canny map of input.png
(cv2.Canny(rgb, 100, 200), three channels) at `scale`, written as inversion_edit_canny.png and
inversion_control_cases.json.

Run: /tmp/ref/bin/python tools/reference/inversion_fixtures.py
"""

import cv2
import numpy as np
import torch
from diffusers import (ControlNetModel, DDIMInverseScheduler, DDIMScheduler, StableDiffusionControlNetPipeline,
                       StableDiffusionPipeline)
from fixture_io import write_json
from PIL import Image
from tiny_models import PIPELINES, sd_tiny_components

OUT = PIPELINES
SOURCE_PROMPT = "an astronaut"

CASES = {
    "edit": dict(prompt="an astronaut in a garden, oil painting", guidance=7.5, steps=10, seed=42),
    # same prompt, no guidance: regeneration retraces the inversion, reconstructing the input
    "reconstruction": dict(prompt=SOURCE_PROMPT, guidance=1.0, steps=10, seed=42),
}


CONTROL_CASE = dict(name="edit_canny", prompt="an astronaut in a garden, oil painting", guidance=7.5, steps=10,
                    seed=42, scale=0.8)


def load_pipeline():
    return StableDiffusionPipeline(**sd_tiny_components())


@torch.no_grad()
def ddim_invert(pipe, image, steps, embeddings, added_cond_kwargs=None):
    """RECIPES.md's steps 1 and 2: the image's latent mean times scaling_factor, run back up
    DDIMInverseScheduler.from_config(pipe.scheduler.config) over `steps`, the UNet conditioned on
    `embeddings` (and on SDXL's `added_cond_kwargs`) without classifier-free guidance."""
    pixels = pipe.image_processor.preprocess(image)
    latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
    inverse = DDIMInverseScheduler.from_config(pipe.scheduler.config)
    inverse.set_timesteps(steps)
    for t in inverse.timesteps:
        noise = pipe.unet(inverse.scale_model_input(latents, t), t, encoder_hidden_states=embeddings,
                          added_cond_kwargs=added_cond_kwargs).sample
        latents = inverse.step(noise, t, latents).prev_sample
    return latents


@torch.no_grad()
def invert(pipe, image, source_prompt, steps):
    embeddings = pipe.encode_prompt(source_prompt, "cpu", 1, False)[0]
    return ddim_invert(pipe, image, steps, embeddings)


def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def main():
    pipe = load_pipeline()
    image = Image.open(OUT / "input.png").convert("RGB")
    regenerate = StableDiffusionPipeline(**dict(pipe.components, scheduler=DDIMScheduler.from_config(pipe.scheduler.config)))
    with torch.no_grad():
        # what decoding the unedited latents gives: the most a reconstruction can reach with this VAE
        pixels = pipe.image_processor.preprocess(image)
        mean = pipe.vae.encode(pixels).latent_dist.mean
        roundtrip = pipe.image_processor.postprocess(pipe.vae.decode(mean).sample, output_type="pil")[0]
    written = {}
    for name, case in CASES.items():
        latents = invert(pipe, image, SOURCE_PROMPT, case["steps"])
        generator = torch.Generator("cpu").manual_seed(case["seed"])
        with torch.no_grad():
            result = regenerate(prompt=case["prompt"], latents=latents, guidance_scale=case["guidance"],
                                num_inference_steps=case["steps"], height=image.height, width=image.width,
                                generator=generator, eta=0.0).images[0]
        result.save(OUT / f"inversion_{name}.png")
        written[name] = dict(case, reference_psnr_vs_input=round(psnr(result, image), 2),
                             reference_psnr_vs_vae_roundtrip=round(psnr(result, roundtrip), 2))
        print(f"{name}: PSNR vs input {psnr(result, image):.2f} dB, "
              f"vs the VAE round trip {psnr(result, roundtrip):.2f} dB")
    case = CONTROL_CASE
    controlnet = ControlNetModel.from_pretrained(OUT / "controlnet_tiny", torch_dtype=torch.float32).eval()
    controlled = StableDiffusionControlNetPipeline(**dict(regenerate.components, controlnet=controlnet))
    edges = cv2.Canny(np.asarray(image), 100, 200)
    latents = invert(pipe, image, SOURCE_PROMPT, case["steps"])
    with torch.no_grad():
        result = controlled(prompt=case["prompt"], image=Image.fromarray(np.stack([edges] * 3, axis=2)),
                            latents=latents, guidance_scale=case["guidance"], num_inference_steps=case["steps"],
                            height=image.height, width=image.width, eta=0.0,
                            generator=torch.Generator("cpu").manual_seed(case["seed"]),
                            controlnet_conditioning_scale=case["scale"]).images[0]
    result.save(OUT / f"inversion_{case['name']}.png")
    print(f"{case['name']}: PSNR vs the uncontrolled edit {psnr(result, Image.open(OUT / 'inversion_edit.png')):.2f} dB")
    write_json(OUT / "inversion_control_cases.json",
               dict(source_prompt=SOURCE_PROMPT, input="input.png", cases={case["name"]: case}))
    write_json(OUT / "inversion_cases.json", dict(source_prompt=SOURCE_PROMPT, input="input.png", cases=written))


if __name__ == "__main__":
    main()
