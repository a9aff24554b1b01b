"""Parity fixtures for the `edit` recipe (DDIM inversion, then regeneration) on an SDXL model: the
tiny SDXL pipeline of sdxl_fixtures.py, rebuilt from the same seeds.

diffusers has no pipeline for this; the reference is RECIPES.md's, spelled out as
inversion_fixtures.py does for SD 1.x (its ddim_invert), with SDXL's conditioning:
  1. latents = vae.encode(preprocess(image)).latent_dist.mean * scaling_factor
  2. inverted with DDIMInverseScheduler.from_config(pipe.scheduler.config) over `steps`, the UNet
     conditioned on `source_prompt` without classifier-free guidance: encode_prompt's embeddings
     and pooled embeddings, and _get_add_time_ids for the image's size with no crop
  3. StableDiffusionXLPipeline (with `control`, StableDiffusionXLControlNetPipeline on the Canny
     map of the input) with DDIMScheduler.from_config(pipe.scheduler.config), `prompt`, `guidance`,
     `steps`, latents=the inverted latents, negative_prompt=None
Writes Tests/Fixtures/sdxl/inversion_<case>.png and inversion_cases.json (only those).
Run: /tmp/ref/bin/python tools/reference/sdxl_inversion_fixtures.py
"""

import cv2
import numpy as np
import torch
from diffusers import (DDIMScheduler, EulerDiscreteScheduler, StableDiffusionXLControlNetPipeline,
                       StableDiffusionXLPipeline)
from fixture_io import FIXTURES, write_json
from inversion_fixtures import ddim_invert
from PIL import Image
from sdxl_fixtures import SCHEDULER, build_controlnet, build_text_encoders, build_unet, build_vae
from tiny_models import TOKENIZER
from transformers import CLIPTokenizer

OUT = FIXTURES / "sdxl"
SOURCE_PROMPT = "an astronaut"

CASES = {
    "edit": dict(prompt="an astronaut in a garden, oil painting", guidance=5.0, steps=10, seed=42),
    # the ControlNet acts during the regeneration only
    "edit_canny": dict(prompt="an astronaut in a garden, oil painting", guidance=5.0, steps=10, seed=42, scale=0.8),
}


@torch.no_grad()
def invert(pipe, image, steps):
    embeddings, _, pooled, _ = pipe.encode_prompt(SOURCE_PROMPT, device="cpu", num_images_per_prompt=1,
                                                  do_classifier_free_guidance=False)
    size = (image.height, image.width)
    time_ids = pipe._get_add_time_ids(size, (0, 0), size, dtype=embeddings.dtype,
                                      text_encoder_projection_dim=pipe.text_encoder_2.config.projection_dim)
    return ddim_invert(pipe, image, steps, embeddings, {"text_embeds": pooled, "time_ids": time_ids})


def main():
    text_encoder, text_encoder_2 = build_text_encoders()
    vae, unet = build_vae(), build_unet()
    controlnet = build_controlnet(unet)
    config = EulerDiscreteScheduler.from_config(dict(SCHEDULER)).config
    components = dict(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                      tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER),
                      tokenizer_2=CLIPTokenizer.from_pretrained(TOKENIZER, pad_token="!"), unet=unet,
                      scheduler=DDIMScheduler.from_config(config), force_zeros_for_empty_prompt=True,
                      add_watermarker=False)
    pipe = StableDiffusionXLPipeline(**components)
    image = Image.open(OUT / "input.png").convert("RGB")
    edges = Image.fromarray(np.stack([cv2.Canny(np.asarray(image), 100, 200)] * 3, axis=2))
    for name, case in CASES.items():
        latents = invert(pipe, image, case["steps"])
        arguments = dict(prompt=case["prompt"], latents=latents, guidance_scale=case["guidance"],
                         num_inference_steps=case["steps"], height=image.height, width=image.width, eta=0.0,
                         generator=torch.Generator("cpu").manual_seed(case["seed"]))
        with torch.no_grad():
            if "scale" in case:
                controlled = StableDiffusionXLControlNetPipeline(**components, controlnet=controlnet)
                result = controlled(**arguments, image=edges, controlnet_conditioning_scale=case["scale"]).images[0]
            else:
                result = pipe(**arguments).images[0]
        result.save(OUT / f"inversion_{name}.png")
        print(name, np.asarray(result).mean())
    write_json(OUT / "inversion_cases.json", dict(source_prompt=SOURCE_PROMPT, cases=CASES))


if __name__ == "__main__":
    main()
