"""Fixtures for the recipe key `vae:`: another VAE for the tiny pipeline of
Tests/Fixtures/pipelines/sd-tiny, as a diffusers folder and as a single file, and diffusers'
img2img with it.

Writes Tests/Fixtures/vae-override/:
  vae/                 a diffusers AutoencoderKL folder: sd-tiny's VAE with its decoder's convolution
                       weights perturbed (seeded), rounded to f16, so images decode visibly differently
  vae-ldm.safetensors  the same weights as one file in the original LDM layout without a prefix (as
                       the ft-MSE VAE ships: encoder.*, decoder.*, quant_conv.*), renamed with
                       singlefile_fixtures.vae_name and checked by diffusers' convert_ldm_vae_checkpoint
                       giving every tensor back unchanged
  img2img_vae.png      StableDiffusionImg2ImgPipeline on sd-tiny with vae=AutoencoderKL.from_pretrained(vae/)
                       (CASE below)
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/vae_override_fixtures.py
"""
import json
import shutil
from pathlib import Path

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers import CLIPTextModel, CLIPTokenizer

from singlefile_fixtures import vae_name

ROOT = Path(__file__).resolve().parents[2]
SD = ROOT / "Tests" / "Fixtures" / "pipelines" / "sd-tiny"
OUT = ROOT / "Tests" / "Fixtures" / "vae-override"
CASE = dict(prompt="an astronaut in a garden, oil painting", strength=0.75, num_inference_steps=6,
            guidance_scale=7.5, seed=42)


def perturbed_vae():
    vae = AutoencoderKL.from_pretrained(SD / "vae", torch_dtype=torch.float32).eval()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, parameter in vae.named_parameters():
            if name.startswith("decoder.") and name.endswith(".weight") and parameter.dim() == 4:
                parameter.mul_(1 + 0.3 * torch.randn(parameter.shape, generator=generator))
            parameter.copy_(parameter.half().float())
    return vae


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    vae = perturbed_vae()
    vae.half().save_pretrained(OUT / "vae", safe_serialization=True)
    vae.float()

    state = load_file(OUT / "vae" / "diffusion_pytorch_model.safetensors")
    config = json.loads((OUT / "vae" / "config.json").read_text())
    ldm = {}
    for name, tensor in state.items():
        new, as_conv = vae_name(name, len(config["up_block_types"]))
        ldm[new] = (tensor[:, :, None, None] if as_conv else tensor).contiguous()
    back = convert_ldm_vae_checkpoint(ldm, config)
    assert set(back) == set(state), set(back) ^ set(state)
    for key, tensor in state.items():
        assert torch.equal(tensor, back[key].reshape(tensor.shape)), key
    save_file(ldm, OUT / "vae-ldm.safetensors")

    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=CLIPTextModel.from_pretrained(SD / "text_encoder", torch_dtype=torch.float32),
        tokenizer=CLIPTokenizer.from_pretrained(ROOT / "Tests" / "Fixtures" / "clip-tokenizer"),
        unet=UNet2DConditionModel.from_pretrained(SD / "unet", torch_dtype=torch.float32),
        scheduler=PNDMScheduler.from_pretrained(SD / "scheduler"), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    image = Image.open(ROOT / "Tests" / "Fixtures" / "pipelines" / "input.png").convert("RGB")
    result = pipe(prompt=CASE["prompt"], image=image, strength=CASE["strength"],
                  num_inference_steps=CASE["num_inference_steps"], guidance_scale=CASE["guidance_scale"],
                  generator=torch.Generator("cpu").manual_seed(CASE["seed"])).images[0]
    result.save(OUT / "img2img_vae.png")


if __name__ == "__main__":
    main()
