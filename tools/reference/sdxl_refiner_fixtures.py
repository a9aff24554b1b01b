"""Parity fixtures for SDXL's base -> refiner hand-over (recipes' `refiner:` / `refiner_switch:`).

The base is sdxl_fixtures.py's tiny pipeline (rebuilt here from the same seeds, so its weights
are those of Tests/Fixtures/sdxl/sdxl-tiny); the refiner is a tiny pipeline laid out as
stabilityai/stable-diffusion-xl-refiner-1.0 is: no first text encoder or tokenizer, text_encoder_2
the base's (as diffusers' documentation loads it: `text_encoder_2=base.text_encoder_2,
vae=base.vae`), a UNet attending to bigG's width alone, 5 time ids (the aesthetic score in place
of the target size), requires_aesthetics_score true and force_zeros_for_empty_prompt false.

Writes Tests/Fixtures/sdxl-refiner/:
  refiner-tiny/   the refiner folder, WITHOUT the vocabulary (the tests copy vocab.json /
                  merges.txt into tokenizer_2/, as for sdxl-tiny); no vae/: the refined latents
                  are decoded by the base's VAE, as diffusers' documented hand-over shares it
  <case>.png      base StableDiffusionXLImg2ImgPipeline(..., denoising_end=switch,
                  output_type="latent") then the refiner's StableDiffusionXLImg2ImgPipeline(
                  image=those latents, denoising_start=switch), one generator for both
  cases.json      the parameters of each case
  inpaint_<case>.png
                  the same hand-over from StableDiffusionXLInpaintPipeline (height=width=64) with
                  sdxl-tiny's 9-channel inpainting UNet or its base one, to the refiner's inpaint
                  pipeline (which draws fresh noise and blends toward the base's latents)
  restyle_sdxl_refined.png
                  recipes/restyle-sdxl-refined.yaml's edit on input.png, as diffusers runs it
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/sdxl_refiner_fixtures.py
"""

import shutil

import torch
import yaml
from diffusers import (EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline,
                       StableDiffusionXLInpaintPipeline, UNet2DConditionModel)
from fixture_io import FIXTURES, ROOT, write_json
from PIL import Image
from sdxl_fixtures import (
    PROMPT, SCHEDULER, TIME_ID_WIDTH, UNET, POOLED, build_text_encoders, build_unet, build_vae, write_second_tokenizer,
)
from tiny_models import TOKENIZER, round_to_half, seeded_model, write_pipeline_folder
from transformers import CLIPTokenizer

OUT = FIXTURES / "sdxl-refiner"
BASE_INPUT = FIXTURES / "sdxl" / "input.png"
SECOND_ENCODER_WIDTH = 16

CASES = {
    # the model's own Euler; no negative prompt (the refiner encodes "", not zeros)
    "refine_euler": dict(scheduler=None, strength=0.6, steps=10, guidance=5.0, seed=42, switch=0.8),
    # Euler ancestral draws at every step of both pipelines from the one generator; prompt_2 reaches
    # the base's second encoder only, the refiner's encoder reads `prompt`
    "refine_euler_a": dict(scheduler="euler_a", strength=0.75, steps=8, guidance=6.0, seed=7, switch=0.7,
                           prompt_2="a watercolor of a spaceman", negative="blurry"),
    # strength 1 from the full schedule, no classifier-free guidance
    "refine_full_no_cfg": dict(scheduler=None, strength=1.0, steps=6, guidance=1.0, seed=3, switch=0.5),
    # the refiner's aesthetic scores, in place of diffusers' 6.0 / 2.5
    "refine_scores": dict(scheduler=None, strength=0.6, steps=10, guidance=5.0, seed=42, switch=0.8, aesthetic_score=8.0,
                          negative_aesthetic_score=1.0),
}

INPAINT_CASES = {
    "9ch": dict(unet="inpaint", scheduler=None, strength=1.0, steps=10, guidance=5.0, seed=7, switch=0.8),
    "4ch_euler_a": dict(unet="base", scheduler="euler_a", strength=0.75, steps=8, guidance=6.0, seed=13, switch=0.7,
                        negative="blurry"),
}


def build_refiner_unet():
    config = dict(UNET, cross_attention_dim=SECOND_ENCODER_WIDTH,
                  projection_class_embeddings_input_dim=POOLED + 5 * TIME_ID_WIDTH)
    return round_to_half(seeded_model(UNet2DConditionModel, 8, 18, **config))


def write_refiner_folder(folder, text_encoder_2, unet):
    # stable-diffusion-xl-refiner-1.0's model_index.json, less the VAE the base lends it
    index = {
        "_class_name": "StableDiffusionXLImg2ImgPipeline",
        "force_zeros_for_empty_prompt": False,
        "requires_aesthetics_score": True,
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": [None, None],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "tokenizer": [None, None],
        "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": [None, None],
    }
    write_pipeline_folder(folder, index, {"scheduler": SCHEDULER}, {"text_encoder_2": text_encoder_2, "unet": unet})
    write_second_tokenizer(folder)


def refined(base, refiner, image, switch, strength, steps, guidance, seed, prompt, prompt_2=None, negative=None,
            scores=None):
    """The base's latents at `switch`, finished by the refiner (with `scores`, its aesthetic
    score arguments); one generator for both."""
    generator = torch.Generator("cpu").manual_seed(seed)
    prompts = dict(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative, num_inference_steps=steps,
                   guidance_scale=guidance, generator=generator)
    with torch.no_grad():
        latents = base(**prompts, image=image, strength=strength, denoising_end=switch, output_type="latent").images
        return refiner(**prompts, image=latents, strength=strength, denoising_start=switch, **(scores or {})).images[0]


def restyle_refined_reference(make_pipes):
    """recipes/restyle-sdxl-refined.yaml's edit, its keys passed as the recipe contract maps them."""
    recipe = yaml.safe_load((ROOT / "recipes" / "restyle-sdxl-refined.yaml").read_text())
    edit = recipe["edits"][0]["img2img"]
    base, refiner = make_pipes(EulerDiscreteScheduler)
    result = refined(base, refiner, Image.open(BASE_INPUT).convert("RGB"), recipe["refiner_switch"], edit["strength"],
                     edit["steps"], edit["guidance"], recipe["seed"], edit["prompt"], edit.get("prompt_2"),
                     edit.get("negative_prompt"))
    result.save(OUT / "restyle_sdxl_refined.png")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    text_encoder, text_encoder_2 = build_text_encoders()
    vae, unet = build_vae(), build_unet()
    refiner_unet = build_refiner_unet()
    write_refiner_folder(OUT / "refiner-tiny", text_encoder_2, refiner_unet)
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER)
    tokenizer_2 = CLIPTokenizer.from_pretrained(TOKENIZER, pad_token="!")
    config = EulerDiscreteScheduler.from_config(dict(SCHEDULER)).config
    schedulers = {None: EulerDiscreteScheduler, "euler_a": EulerAncestralDiscreteScheduler}
    def make_pipes(scheduler_class):
        base = StableDiffusionXLImg2ImgPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
            tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler_class.from_config(config),
            requires_aesthetics_score=False, force_zeros_for_empty_prompt=True, add_watermarker=False)
        refiner = StableDiffusionXLImg2ImgPipeline(
            vae=vae, text_encoder=None, text_encoder_2=text_encoder_2, tokenizer=None, tokenizer_2=tokenizer_2,
            unet=refiner_unet, scheduler=scheduler_class.from_config(config),
            requires_aesthetics_score=True, force_zeros_for_empty_prompt=False, add_watermarker=False)
        return base, refiner

    for name, case in CASES.items():
        base, refiner = make_pipes(schedulers[case["scheduler"]])
        scores = {key: case[key] for key in ("aesthetic_score", "negative_aesthetic_score") if key in case}
        result = refined(base, refiner, Image.open(BASE_INPUT).convert("RGB"), case["switch"], case["strength"],
                         case["steps"], case["guidance"], case["seed"], PROMPT, case.get("prompt_2"), case.get("negative"),
                         scores)
        result.save(OUT / f"{name}.png")
        print(name, result.size)
    restyle_refined_reference(make_pipes)
    unet_inpaint = build_unet(9, 6)
    image, mask = Image.open(BASE_INPUT).convert("RGB"), Image.open(BASE_INPUT.parent / "mask.png")
    for name, case in INPAINT_CASES.items():
        scheduler_class = schedulers[case["scheduler"]]
        parts = dict(vae=vae, text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, add_watermarker=False)
        base = StableDiffusionXLInpaintPipeline(
            **parts, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet_inpaint if case["unet"] == "inpaint" else unet,
            scheduler=scheduler_class.from_config(config), requires_aesthetics_score=False, force_zeros_for_empty_prompt=True)
        refiner = StableDiffusionXLInpaintPipeline(
            **parts, text_encoder=None, tokenizer=None, unet=refiner_unet, scheduler=scheduler_class.from_config(config),
            requires_aesthetics_score=True, force_zeros_for_empty_prompt=False)
        generator = torch.Generator("cpu").manual_seed(case["seed"])
        prompts = dict(prompt=PROMPT, negative_prompt=case.get("negative"), num_inference_steps=case["steps"],
                       guidance_scale=case["guidance"], generator=generator, mask_image=mask, height=64, width=64,
                       strength=case["strength"])
        with torch.no_grad():
            latents = base(**prompts, image=image, denoising_end=case["switch"], output_type="latent").images
            result = refiner(**prompts, image=latents, denoising_start=case["switch"]).images[0]
        result.save(OUT / f"inpaint_{name}.png")
        print("inpaint", name, result.size)
    write_json(OUT / "inpaint_cases.json", dict(prompt=PROMPT, cases=INPAINT_CASES))
    write_json(OUT / "cases.json", dict(prompt=PROMPT, cases=CASES))


if __name__ == "__main__":
    main()
