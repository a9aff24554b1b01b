"""Parameter names and shapes of the known architectures, from the real diffusers/transformers
classes built on the meta device (no weights), for Overpaint's `models random` layouts.

Writes Tests/Fixtures/singlefile/architectures.json:
{arch: {component: {"parameters": N, "tensors": {name: shape}}}}.
Run: /tmp/ref/bin/python tools/reference/architecture_fixtures.py
"""
import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

OUT = Path(__file__).resolve().parents[2] / "Tests/Fixtures/singlefile/architectures.json"

SD15_UNET = dict(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
SD2_UNET = dict(sample_size=64, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20], use_linear_projection=True)
VAE = dict(block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
           up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=2, sample_size=512, latent_channels=4)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
OPENCLIP_H = dict(vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23,
                  num_attention_heads=16, max_position_embeddings=77, hidden_act="gelu", projection_dim=512)


def describe(model, strip=""):
    tensors = {k[len(strip):] if k.startswith(strip) else k: list(v.shape) for k, v in model.state_dict().items()
               if not k.endswith("position_ids")}
    return {"parameters": sum(v.numel() for v in model.parameters()), "tensors": tensors}


def rrdbnet(blocks=23, feat=64, grow=32):
    tensors = {}

    def conv(name, cin, cout):
        tensors[f"{name}.weight"] = [cout, cin, 3, 3]
        tensors[f"{name}.bias"] = [cout]

    # basicsr/archs/rrdbnet_arch.py, RRDBNet(3, 3, scale=4, num_feat=64, num_block=23, num_grow_ch=32)
    conv("conv_first", 3, feat)
    for b in range(blocks):
        for r in (1, 2, 3):
            for i in range(1, 6):
                conv(f"body.{b}.rdb{r}.conv{i}", feat + (i - 1) * grow, feat if i == 5 else grow)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        conv(name, feat, feat)
    conv("conv_last", feat, 3)
    count = sum(int(torch.Size(s).numel()) for s in tensors.values())
    return {"parameters": count, "tensors": tensors}


def main():
    with torch.device("meta"):
        result = {
            "sd15": {"unet": describe(UNet2DConditionModel(**SD15_UNET)), "vae": describe(AutoencoderKL(**VAE)),
                     "text_encoder": describe(CLIPTextModel(CLIPTextConfig(**CLIP_L)), "text_model.")},
            "sd2": {"unet": describe(UNet2DConditionModel(**SD2_UNET)),
                    "text_encoder": describe(CLIPTextModel(CLIPTextConfig(**OPENCLIP_H)), "text_model.")},
            "sd15-inpaint": {"unet": describe(UNet2DConditionModel(**SD15_UNET, in_channels=9))},
            "controlnet": {"controlnet": describe(ControlNetModel(cross_attention_dim=768, attention_head_dim=8))},
        }
    result["realesrgan-x4plus"] = {"rrdbnet": rrdbnet()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, sort_keys=True, separators=(",", ":")))
    for arch, comps in result.items():
        print(arch, {c: v["parameters"] for c, v in comps.items()})


if __name__ == "__main__":
    main()
