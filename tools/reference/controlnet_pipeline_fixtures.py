"""Parity fixtures for ControlNet img2img: diffusers' StableDiffusionControlNetImg2ImgPipeline on
the tiny pipeline of pipeline_fixtures.py with a tiny ControlNet.

Reads Tests/Fixtures/pipelines/ (sd-tiny/, input.png; run pipeline_fixtures.py first) and writes:
  controlnet_tiny/          ControlNetModel.from_unet(sd-tiny's UNet) with random weights,
                            conditioning_embedding_out_channels (8, 8, 16, 16), the zero convolutions
                            (and the embedding's conv_out) randomized so the residuals matter; f16
  controlnet_canny_map.png  cv2.Canny(input.png as RGB, 100, 200), one channel (0 / 255)
  controlnet_<case>.png     diffusers' output for each case in CASES (output_type="pil")
  controlnet_cases.json     the parameters of each case
  controlnet_inpaint_<unet>.png  StableDiffusionControlNetInpaintPipeline's output for each case
                            in INPAINT_CASES (mask.png; canny map of input.png at scale 0.8;
                            `4ch` on sd-tiny's UNet with latent blending, `9ch` on unet-inpaint/)
Every case: PROMPT, seed 42 (torch.Generator("cpu")), strength 0.75, 10 steps, guidance 7.5,
the model's PNDM scheduler. Weights are rounded to f16 before the reference runs.
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/controlnet_pipeline_fixtures.py
"""

import json
import shutil

import cv2
import numpy as np
import torch
from diffusers import StableDiffusionControlNetImg2ImgPipeline, StableDiffusionControlNetInpaintPipeline
from fixture_io import write_json
from PIL import Image
from tiny_models import PIPELINES, controlnet_from_unet, round_to_half, save_half, sd_tiny_components

OUT = PIPELINES
PROMPT = "an astronaut in a garden, oil painting"
SEED = 21

# Each control: (condition, conditioning scale, control_guidance_start, control_guidance_end).
# "canny" is the Canny map stacked to three channels; "input" is input.png itself.
CASES = {
    "controlnet_canny": dict(controls=[("canny", 0.8, 0.0, 1.0)]),
    "controlnet_canny_end_half": dict(controls=[("canny", 0.8, 0.0, 0.5)]),
    # MultiControlNetModel: the same tiny ControlNet twice, residuals summed, each with its window
    "controlnet_multi": dict(controls=[("canny", 0.8, 0.0, 1.0), ("input", 0.5, 0.2, 0.7)]),
}
COMMON = dict(seed=42, strength=0.75, steps=10, guidance=7.5)
INPAINT_CASES = {
    "controlnet_inpaint_4ch": dict(unet="unet", strength=0.75, steps=10, guidance=7.5, seed=5, scale=0.8),
    "controlnet_inpaint_9ch": dict(unet="unet-inpaint", strength=1.0, steps=10, guidance=7.5, seed=5, scale=0.8),
}


def build_controlnet(unet):
    generator = torch.Generator().manual_seed(SEED + 1)
    zero_init = ("controlnet_down_blocks", "controlnet_mid_block")
    return round_to_half(controlnet_from_unet(unet, SEED, (8, 8, 16, 16), zero_init, generator))


def save_controlnet(model):
    folder = OUT / "controlnet_tiny"
    if folder.exists():
        shutil.rmtree(folder)
    save_half(model, folder)
    config = json.loads((folder / "config.json").read_text())
    # diffusers builds this list from a set, so its order would change from run to run.
    config["_use_default_values"] = sorted(config.get("_use_default_values", []))
    write_json(folder / "config.json", config)


def main():
    parts = sd_tiny_components()
    unet = parts["unet"]
    controlnet = build_controlnet(unet)
    save_controlnet(controlnet)

    image = Image.open(OUT / "input.png").convert("RGB")
    edges = cv2.Canny(np.asarray(image), 100, 200)
    Image.fromarray(edges, mode="L").save(OUT / "controlnet_canny_map.png")
    conditions = {"canny": Image.fromarray(np.stack([edges] * 3, axis=2)), "input": image}

    for name, case in CASES.items():
        controls = case["controls"]
        nets = controlnet if len(controls) == 1 else [controlnet] * len(controls)
        pipe = StableDiffusionControlNetImg2ImgPipeline(controlnet=nets, **parts)
        pick = (lambda values: values[0]) if len(controls) == 1 else list
        with torch.no_grad():
            result = pipe(
                prompt=PROMPT, image=image, control_image=pick([conditions[c[0]] for c in controls]),
                strength=COMMON["strength"], num_inference_steps=COMMON["steps"],
                guidance_scale=COMMON["guidance"], generator=torch.Generator("cpu").manual_seed(COMMON["seed"]),
                controlnet_conditioning_scale=pick([c[1] for c in controls]),
                control_guidance_start=pick([c[2] for c in controls]),
                control_guidance_end=pick([c[3] for c in controls]),
            ).images[0]
        result.save(OUT / f"{name}.png")
        pixels = np.asarray(result).astype(np.float64)
        print(f"{name}: mean {pixels.mean():.1f} std {pixels.std():.1f}")
    mask = Image.open(OUT / "mask.png").convert("L")
    for name, case in INPAINT_CASES.items():
        inpaint_parts = dict(parts, unet=sd_tiny_components(case["unet"])["unet"])
        pipe = StableDiffusionControlNetInpaintPipeline(controlnet=controlnet, **inpaint_parts)
        with torch.no_grad():
            result = pipe(
                prompt=PROMPT, image=image, mask_image=mask, control_image=conditions["canny"],
                strength=case["strength"], num_inference_steps=case["steps"], guidance_scale=case["guidance"],
                generator=torch.Generator("cpu").manual_seed(case["seed"]),
                controlnet_conditioning_scale=case["scale"],
            ).images[0]
        result.save(OUT / f"{name}.png")
        print(f"{name}: mean {np.asarray(result).astype(np.float64).mean():.1f}")
    write_json(OUT / "controlnet_inpaint_cases.json", dict(prompt=PROMPT, cases=INPAINT_CASES))
    cases = {name: dict(COMMON, controls=[dict(zip(("condition", "scale", "start", "end"), c)) for c in case["controls"]])
             for name, case in CASES.items()}
    write_json(OUT / "controlnet_cases.json", dict(prompt=PROMPT, cases=cases))


if __name__ == "__main__":
    main()
