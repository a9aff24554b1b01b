"""What the fixture scripts share to build and load their tiny random diffusers models.

Weights are rounded to f16 before a reference runs (the models run in f32) and saved as f16,
so the committed files hold exactly the weights that produced the outputs.
"""
from pathlib import Path

import torch
from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"
PIPELINES = FIXTURES / "pipelines"
SD_TINY = PIPELINES / "sd-tiny"
TOKENIZER = FIXTURES / "clip-tokenizer"


def round_to_half(model):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
    return model


def perturb_norms(model, generator):
    """Default init leaves norms at weight 1, bias 0; perturb them so a wrong one shows."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                noise = torch.randn(parameter.shape, generator=generator) * 0.1
                parameter.copy_(1 + noise if name.endswith("weight") else noise)


def randomize_controlnet(model, generator, zero_init):
    """Perturb the norms (default weight 1, bias 0), give the conditioning embedding He-scaled
    weights (with the default init its signal fades over its eight layers and the control image
    would barely change the residuals) and the zero-initialised parameters named by the
    prefixes `zero_init` random ones."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                noise = torch.randn(parameter.shape, generator=generator) * 0.1
                parameter.copy_(1 + noise if name.endswith("weight") else noise)
            elif name.startswith("controlnet_cond_embedding") and name.endswith("weight"):
                fan_in = parameter[0].numel()
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * (2 / fan_in) ** 0.5)
            elif name.startswith(zero_init):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)


def save_half(model, folder: Path):
    model.half().save_pretrained(folder, safe_serialization=True)
    model.float()


def sd_tiny_components(unet: str = "unet") -> dict:
    """sd-tiny's components in f32, as keyword arguments of a Stable Diffusion pipeline;
    `unet` names the UNet folder of pipelines/ ("unet-inpaint") or sd-tiny's own."""
    f32 = dict(torch_dtype=torch.float32)
    unet_folder = SD_TINY / "unet" if unet == "unet" else PIPELINES / unet
    return dict(
        vae=AutoencoderKL.from_pretrained(SD_TINY / "vae", **f32).eval(),
        text_encoder=CLIPTextModel.from_pretrained(SD_TINY / "text_encoder", **f32).eval(),
        tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER),
        unet=UNet2DConditionModel.from_pretrained(unet_folder, **f32).eval(),
        scheduler=PNDMScheduler.from_pretrained(SD_TINY / "scheduler"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
