"""Parity fixtures for the Pipelines module: a tiny random Stable Diffusion pipeline and
diffusers' outputs for img2img and inpainting.

Writes Tests/Fixtures/pipelines/:
  sd-tiny/        a diffusers pipeline folder WITHOUT tokenizer/ (the tests copy the real CLIP
                  vocabulary from Tests/Fixtures/clip-tokenizer/ into a temporary copy, so the
                  1.5 MB vocabulary is stored once): model_index.json, scheduler/ (SD 1.5's
                  PNDM config), text_encoder/ (CLIPTextModel hidden 16, full 49408 vocabulary),
                  vae/ (4 blocks, so vae_scale_factor is 8 as in SD), unet/ (4 input channels)
  unet-inpaint/   a 9-channel UNet for the same pipeline (StableDiffusionInpaintPipeline)
  input.png       64x64 RGB: a 128x128 crop of samples/astronaut.png, downscaled (PIL lanczos)
  input_odd.png   70x67 RGB: another crop, for the floor-to-a-multiple-of-8 resize
  mask.png        64x64 L: a 0/255 disc (white = repaint), not aligned to the latent grid
  <case>.png      diffusers' output for each case in CASES (output_type="pil")
  cases.json      the parameters of each case
All weights are rounded to f16 before the reference runs (the models run in f32), and saved
as f16, so the files hold exactly the weights that produced the outputs.
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/pipeline_fixtures.py
"""

import shutil

import numpy as np
import torch
from diffusers import (DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, PNDMScheduler,
                       StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline, UNet2DConditionModel)
from fixture_io import ROOT, save_output, write_json
from PIL import Image
from scheduler_loop import SD15
from tiny_models import (PIPELINES, TOKENIZER, carry_image_through, clip_text_config, round_to_half, save_half,
                         seeded_model, tiny_vae, write_pipeline_folder)
from transformers import CLIPTextModel, CLIPTokenizer

OUT = PIPELINES

PROMPT = "an astronaut in a garden, oil painting"

UNET = dict(
    sample_size=8, in_channels=4, out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(16, 32), layers_per_block=1, cross_attention_dim=16,
    attention_head_dim=4, norm_num_groups=8,
)

CASES = {
    "img2img_pndm": dict(kind="img2img", scheduler=None, strength=0.75, steps=10, guidance=7.5, seed=42),
    "img2img_ddim_eta": dict(kind="img2img", scheduler="ddim", eta=0.5, strength=0.75, steps=10, guidance=7.5, seed=42),
    "img2img_euler_a": dict(kind="img2img", scheduler="euler_a", strength=0.75, steps=10, guidance=7.5, seed=42),
    "inpaint_9ch": dict(kind="inpaint", unet="inpaint", scheduler=None, strength=1.0, steps=10, guidance=7.5, seed=7),
    "inpaint_4ch": dict(kind="inpaint", unet="base", scheduler=None, strength=0.75, steps=10, guidance=7.5, seed=7),
    # guidance <= 1: no classifier-free guidance, the negative prompt is not used
    "img2img_no_cfg": dict(kind="img2img", scheduler=None, strength=0.6, steps=10, guidance=1.0, seed=3,
                           negative="blurry"),
    # a negative prompt with guidance, and img2img at strength 1 (still noises the encoded image)
    "img2img_negative_euler": dict(kind="img2img", scheduler="euler", strength=1.0, steps=8, guidance=5.0, seed=5,
                                   negative="blurry, low quality"),
    # 9 channels below strength 1: image sample, noise, masked-image sample, then DDIM's step noise
    "inpaint_9ch_ddim_eta": dict(kind="inpaint", unet="inpaint", scheduler="ddim", eta=0.3, strength=0.6, steps=10,
                                 guidance=7.5, seed=11),
    # 4 channels with a sigma scheduler: blending noises the original at the scheduler's step index
    # a size that is not a multiple of 8: diffusers floors it (70x67 -> 64x64) with a PIL Lanczos resize
    "img2img_resize": dict(kind="img2img", input="input_odd.png", scheduler=None, strength=0.75, steps=10,
                           guidance=7.5, seed=42),
    "inpaint_4ch_euler_a": dict(kind="inpaint", unet="base", scheduler="euler_a", strength=1.0, steps=8,
                                guidance=7.5, seed=13),
}


def build_text_encoder():
    config = clip_text_config(16, 2, projection_dim=16, hidden_act="quick_gelu", bos_token_id=49406)
    return round_to_half(seeded_model(CLIPTextModel, 1, 11, config))


def build_vae():
    return round_to_half(carry_image_through(tiny_vae(2, 12)))


def build_unet(in_channels, seed):
    return round_to_half(seeded_model(UNet2DConditionModel, seed, seed + 10, **dict(UNET, in_channels=in_channels)))


def write_inputs():
    source = Image.open(ROOT / "samples" / "astronaut.png").convert("RGB")
    image = source.crop((160, 20, 288, 148)).resize((64, 64), Image.LANCZOS)
    image.save(OUT / "input.png")
    yy, xx = np.mgrid[0:64, 0:64]
    disc = ((xx - 35) ** 2 + (yy - 29) ** 2) <= 15 ** 2
    mask = Image.fromarray((disc * 255).astype(np.uint8), mode="L")
    mask.save(OUT / "mask.png")
    source.crop((150, 10, 290, 144)).resize((70, 67), Image.LANCZOS).save(OUT / "input_odd.png")
    return image, mask


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    folder = OUT / "sd-tiny"
    text_encoder, vae = build_text_encoder(), build_vae()
    unets = {"base": build_unet(4, 3), "inpaint": build_unet(9, 4)}
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER)
    index = {
        "_class_name": "StableDiffusionPipeline",
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    # SD 1.5's scheduler config, written as the hub file is, then loaded as diffusers loads it (keys
    # PNDM does not take, like clip_sample, are kept in its config for from_config of other classes).
    write_pipeline_folder(folder, index, {"scheduler": SD15},
                          {"text_encoder": text_encoder, "vae": vae, "unet": unets["base"]})
    save_half(unets["inpaint"], OUT / "unet-inpaint")
    scheduler = PNDMScheduler.from_pretrained(folder / "scheduler")

    image, mask = write_inputs()
    schedulers = {None: PNDMScheduler, "ddim": DDIMScheduler, "euler": EulerDiscreteScheduler,
                  "euler_a": EulerAncestralDiscreteScheduler}
    for name, case in CASES.items():
        parts = dict(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                     scheduler=schedulers[case["scheduler"]].from_config(scheduler.config),
                     safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        generator = torch.Generator("cpu").manual_seed(case["seed"])
        common = dict(prompt=PROMPT, image=Image.open(OUT / case.get("input", "input.png")).convert("RGB"), strength=case["strength"], num_inference_steps=case["steps"],
                      guidance_scale=case["guidance"], generator=generator, eta=case.get("eta", 0.0),
                      negative_prompt=case.get("negative"))
        with torch.no_grad():
            if case["kind"] == "img2img":
                pipe = StableDiffusionImg2ImgPipeline(unet=unets["base"], **parts)
                result = pipe(**common).images[0]
            else:
                pipe = StableDiffusionInpaintPipeline(unet=unets[case["unet"]], **parts)
                result = pipe(mask_image=mask, **common).images[0]
        save_output(result, OUT / f"{name}.png")
    write_json(OUT / "cases.json", dict(prompt=PROMPT, cases=CASES))


if __name__ == "__main__":
    main()
