"""Parity fixtures for `inpaint` with `control` on an SDXL model: diffusers'
StableDiffusionXLControlNetInpaintPipeline on the tiny SDXL pipeline of sdxl_fixtures.py (rebuilt
from the same seeds), with its text_time ControlNet on the Canny map of input.png, for the
9-channel inpainting UNet and the base 4-channel one.

Writes Tests/Fixtures/sdxl/controlnet_inpaint_<case>.png and controlnet_inpaint_cases.json.
Run: /tmp/ref/bin/python tools/reference/sdxl_controlnet_inpaint_fixtures.py
"""

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from diffusers import EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, StableDiffusionXLControlNetInpaintPipeline
from PIL import Image
from sdxl_fixtures import PROMPT, SCHEDULER, build_controlnet, build_text_encoders, build_unet, build_vae
from tiny_models import TOKENIZER
from transformers import CLIPTokenizer

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "sdxl"

CASES = {
    "9ch": dict(unet="inpaint", scheduler=None, strength=1.0, steps=8, guidance=5.0, seed=7, scale=0.8),
    "4ch_euler_a": dict(unet="base", scheduler="euler_a", strength=0.75, steps=8, guidance=6.0, seed=13, scale=0.6,
                        negative="blurry"),
}


def main():
    text_encoder, text_encoder_2 = build_text_encoders()
    vae, unet, unet_inpaint = build_vae(), build_unet(), build_unet(9, 6)
    controlnet = build_controlnet(unet)
    config = EulerDiscreteScheduler.from_config(dict(SCHEDULER)).config
    schedulers = {None: EulerDiscreteScheduler, "euler_a": EulerAncestralDiscreteScheduler}
    image = Image.open(OUT / "input.png").convert("RGB")
    mask = Image.open(OUT / "mask.png")
    edges = Image.fromarray(np.stack([cv2.Canny(np.asarray(image), 100, 200)] * 3, axis=2))
    for name, case in CASES.items():
        pipe = StableDiffusionXLControlNetInpaintPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
            tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER), tokenizer_2=CLIPTokenizer.from_pretrained(TOKENIZER, pad_token="!"),
            unet=unet_inpaint if case["unet"] == "inpaint" else unet, controlnet=controlnet,
            scheduler=schedulers[case["scheduler"]].from_config(config), requires_aesthetics_score=False,
            force_zeros_for_empty_prompt=True, add_watermarker=False)
        with torch.no_grad():
            result = pipe(prompt=PROMPT, negative_prompt=case.get("negative"), image=image, mask_image=mask,
                          control_image=edges, height=64, width=64, strength=case["strength"],
                          num_inference_steps=case["steps"], guidance_scale=case["guidance"],
                          controlnet_conditioning_scale=case["scale"],
                          generator=torch.Generator("cpu").manual_seed(case["seed"])).images[0]
        result.save(OUT / f"controlnet_inpaint_{name}.png")
        print(name, np.asarray(result).mean())
    (OUT / "controlnet_inpaint_cases.json").write_text(json.dumps(dict(prompt=PROMPT, cases=CASES), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
