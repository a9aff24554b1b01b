"""Reference state dicts for `overpaint models random --like sdxl-refiner | controlnet-sdxl`.

Builds the real configs on torch's meta device (no weights are allocated) and records every
parameter's name and shape and the parameter count:
  sdxl-refiner     stabilityai/stable-diffusion-xl-refiner-1.0's unet/config.json, vae/config.json (the
                   SDXL VAE) and text_encoder_2/config.json (OpenCLIP bigG with its projection)
  controlnet-sdxl  diffusers/controlnet-canny-sdxl-1.0's config.json (ControlNetModel with text_time,
                   the SDXL base's down blocks)

Writes Tests/Fixtures/sdxl-random/architectures.json:
  {arch: {component: {"parameters": N, "tensors": {name: shape}}}}
(its own folder: sdxl_fixtures.py clears Tests/Fixtures/sdxl when run). Deterministic.

Run: /tmp/ref/bin/python tools/reference/sdxl_random_fixtures.py
"""

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from sdxl_fixtures import OPENCLIP_BIGG, SDXL_UNET, SDXL_VAE
from transformers import CLIPTextConfig, CLIPTextModelWithProjection

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "sdxl-random"

# stabilityai/stable-diffusion-xl-refiner-1.0 unet/config.json (keys that differ from the defaults)
SDXL_REFINER_UNET = dict(
    sample_size=128, addition_embed_type="text_time", addition_time_embed_dim=256,
    attention_head_dim=[6, 12, 24, 24], block_out_channels=[384, 768, 1536, 1536], cross_attention_dim=1280,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], layers_per_block=2,
    projection_class_embeddings_input_dim=2560, transformer_layers_per_block=4, use_linear_projection=True,
)

# diffusers/controlnet-canny-sdxl-1.0 config.json (keys that differ from ControlNetModel's defaults)
CONTROLNET_SDXL = dict(
    addition_embed_type="text_time", addition_time_embed_dim=256, attention_head_dim=[5, 10, 20],
    block_out_channels=[320, 640, 1280], conditioning_embedding_out_channels=[16, 32, 96, 256],
    cross_attention_dim=2048, down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    layers_per_block=2, projection_class_embeddings_input_dim=2816, transformer_layers_per_block=[1, 2, 10],
    use_linear_projection=True,
)


def describe(model):
    tensors = {k: list(v.shape) for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    return {"parameters": sum(v.numel() for v in model.parameters()), "tensors": tensors}


def main():
    # The ControlNet's down blocks are the SDXL base UNet's: the same shapes under the same names.
    assert all(SDXL_UNET[key] == CONTROLNET_SDXL[key] for key in (
        "attention_head_dim", "block_out_channels", "cross_attention_dim", "down_block_types",
        "projection_class_embeddings_input_dim", "transformer_layers_per_block"))
    with torch.device("meta"):
        result = {
            "sdxl-refiner": {"unet": describe(UNet2DConditionModel(**SDXL_REFINER_UNET)),
                             "vae": describe(AutoencoderKL(**SDXL_VAE)),
                             "text_encoder_2": describe(CLIPTextModelWithProjection(CLIPTextConfig(**OPENCLIP_BIGG)))},
            "controlnet-sdxl": {"controlnet": describe(ControlNetModel(**CONTROLNET_SDXL))},
        }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "architectures.json").write_text(json.dumps(result, sort_keys=True, separators=(",", ":")))
    for arch, components in result.items():
        print(arch, {c: v["parameters"] for c, v in components.items()})


if __name__ == "__main__":
    main()
