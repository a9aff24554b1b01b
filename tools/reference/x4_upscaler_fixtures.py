"""Parity fixtures for the SD x4 upscaler: a tiny random StableDiffusionUpscalePipeline and
diffusers' outputs for a few cases.

Writes Tests/Fixtures/upscaler/:
  x4-tiny/        a diffusers pipeline folder WITHOUT text_encoder/ and tokenizer/: the tests
                  copy Tests/Fixtures/pipelines/sd-tiny/text_encoder (written by
                  pipeline_fixtures.py, hidden 16) and Tests/Fixtures/clip-tokenizer into a
                  temporary copy, so the 1.6 MB embedding table and the vocabulary are stored once.
                  model_index.json (max_noise_level 350), scheduler/ (the x4 upscaler's DDIM,
                  v_prediction), low_res_scheduler/ (its DDPM), vae/ (3 blocks: vae_scale_factor
                  4, scaling_factor 0.08333), unet/ (7 input channels, a 1000-entry class
                  embedding for the noise level, per-block only_cross_attention, linear
                  projections: the real x4 UNet's features at a tiny width)
  input.png       16x16 RGB: a crop of samples/astronaut.png, downscaled (PIL lanczos)
  input_odd.png   18x14 RGB: another crop, for the floor-to-a-multiple-of-4 (bicubic) resize
  input_large.png 32x32 RGB: for the tiling tests (no diffusers reference: diffusers does not tile)
  <case>.png      diffusers' output for each case in CASES (output_type="pil", 4x the input)
  cases.json      the parameters of each case
Weights are rounded to f16 before the reference runs (the models run in f32) and saved as f16.
Deterministic: re-running rewrites identical files.

Run (after pipeline_fixtures.py): /tmp/ref/bin/python tools/reference/x4_upscaler_fixtures.py
"""

import shutil

import torch
from diffusers import (DDIMScheduler, DDPMScheduler, EulerAncestralDiscreteScheduler, StableDiffusionUpscalePipeline,
                       UNet2DConditionModel)
from fixture_io import FIXTURES, ROOT, save_output, write_json
from PIL import Image
from tiny_models import SD_TINY, TOKENIZER, round_to_half, seeded_model, tiny_vae, write_pipeline_folder
from transformers import CLIPTextModel, CLIPTokenizer

OUT = FIXTURES / "upscaler"

PROMPT = "a white cat"

# stabilityai/stable-diffusion-x4-upscaler's scheduler/ and low_res_scheduler/ configs
SCHEDULER = dict(
    _class_name="DDIMScheduler", beta_end=0.02, beta_schedule="scaled_linear", beta_start=0.0001,
    clip_sample=False, num_train_timesteps=1000, prediction_type="v_prediction", set_alpha_to_one=False,
    skip_prk_steps=True, steps_offset=1, trained_betas=None,
)
LOW_RES_SCHEDULER = dict(
    _class_name="DDPMScheduler", beta_end=0.02, beta_schedule="scaled_linear", beta_start=0.0001,
    clip_sample=False, num_train_timesteps=1000, trained_betas=None, variance_type="fixed_small",
)

# The real x4 UNet: DownBlock2D then CrossAttn blocks, only_cross_attention on all but the
# last block, linear projections, num_class_embeds 1000, 7 in / 4 out channels.
UNET = dict(
    sample_size=16, in_channels=7, out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(8, 16, 16), layers_per_block=1, cross_attention_dim=16,
    attention_head_dim=4, norm_num_groups=4, num_class_embeds=1000,
    only_cross_attention=(True, True, False), use_linear_projection=True,
)

CASES = {
    "default": dict(steps=6, guidance=9.0, noise_level=20, seed=0),
    "noise_level_150": dict(steps=6, guidance=9.0, noise_level=150, seed=1),
    "noise_level_0": dict(steps=5, guidance=9.0, noise_level=0, seed=2),
    "no_cfg": dict(steps=6, guidance=1.0, noise_level=20, seed=3, negative="blurry"),
    "negative": dict(steps=6, guidance=5.0, noise_level=50, seed=4, negative="blurry, low quality"),
    # stochastic steps: the step noise comes after the low-res noise and the latents
    "euler_a": dict(steps=5, guidance=7.0, noise_level=20, seed=5, scheduler="euler_a"),
    # DDIM with eta: step noise from the same generator
    "ddim_eta": dict(steps=5, guidance=7.0, noise_level=30, seed=6, eta=0.5),
    # 18x14 is floored to 16x12 with a PIL bicubic resize
    "resize": dict(steps=5, guidance=9.0, noise_level=20, seed=7, input="input_odd.png"),
}


def build_vae():
    return round_to_half(tiny_vae(21, 22, block_out_channels=(8, 8, 16), scaling_factor=0.08333))


def build_unet():
    model = seeded_model(UNet2DConditionModel, 23, 24, **UNET)
    with torch.no_grad():
        # default init draws the table from N(0, 1), which would swamp the time embedding;
        # keep it comparable so the noise level matters without dominating
        model.class_embedding.weight.mul_(0.5)
    return round_to_half(model)


def write_inputs():
    source = Image.open(ROOT / "samples" / "astronaut.png").convert("RGB")
    source.crop((160, 20, 288, 148)).resize((16, 16), Image.LANCZOS).save(OUT / "input.png")
    source.crop((150, 10, 294, 122)).resize((18, 14), Image.LANCZOS).save(OUT / "input_odd.png")
    source.crop((100, 0, 356, 256)).resize((32, 32), Image.LANCZOS).save(OUT / "input_large.png")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    folder = OUT / "x4-tiny"
    text_encoder = CLIPTextModel.from_pretrained(SD_TINY / "text_encoder", torch_dtype=torch.float32).eval()
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER)
    vae, unet = build_vae(), build_unet()
    index = {
        "_class_name": "StableDiffusionUpscalePipeline",
        "low_res_scheduler": ["diffusers", "DDPMScheduler"],
        "max_noise_level": 350,
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    write_pipeline_folder(folder, index, {"scheduler": SCHEDULER, "low_res_scheduler": LOW_RES_SCHEDULER},
                          {"vae": vae, "unet": unet})
    scheduler = DDIMScheduler.from_pretrained(folder / "scheduler")
    low_res_scheduler = DDPMScheduler.from_pretrained(folder / "low_res_scheduler")

    write_inputs()
    schedulers = {None: DDIMScheduler, "euler_a": EulerAncestralDiscreteScheduler}
    for name, case in CASES.items():
        pipe = StableDiffusionUpscalePipeline(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
            low_res_scheduler=low_res_scheduler,
            scheduler=schedulers[case.get("scheduler")].from_config(scheduler.config),
            max_noise_level=350)
        generator = torch.Generator("cpu").manual_seed(case["seed"])
        image = Image.open(OUT / case.get("input", "input.png")).convert("RGB")
        with torch.no_grad():
            result = pipe(prompt=PROMPT, image=image, num_inference_steps=case["steps"],
                          guidance_scale=case["guidance"], noise_level=case["noise_level"],
                          negative_prompt=case.get("negative"), eta=case.get("eta", 0.0),
                          generator=generator).images[0]
        save_output(result, OUT / f"{name}.png")
    write_json(OUT / "cases.json", dict(prompt=PROMPT, cases=CASES))


if __name__ == "__main__":
    main()
