"""A full-size random LoRA for timing LoRA fusing (issue: under 2 s for rank 32 on SD 1.5).

Writes a kohya-layout file (lora_unet_* / lora_te_*, .lora_down / .lora_up / .alpha, f16) over
the modules a typical kohya SD 1.5 LoRA trains: every attention and feed-forward linear of the
UNet's transformers, their proj_in / proj_out, and the text encoder's attention and MLP linears.
Shapes come from the model folder given (e.g. `overpaint models random --like sd15`); the
values are noise.

    /tmp/ref/bin/python tools/reference/random_lora.py --model /tmp/sd15 --rank 32 --out /tmp/lora32.safetensors
"""
import argparse

import torch
from diffusers import UNet2DConditionModel
from transformers import CLIPTextModel

from fixture_io import save_tensors
from lora_fixtures import TEXT_LINEARS, UNET_LINEARS, is_conv, kohya_name, lora_factors, modules

UNET_TARGETS = lambda name, m: UNET_LINEARS(name, m) or (is_conv(m, 1) and ("proj_in" in name or "proj_out" in name))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="an SD 1.5 diffusers folder")
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args()
    components = {
        "unet": UNet2DConditionModel.from_pretrained(arguments.model, subfolder="unet"),
        "text_encoder": CLIPTextModel.from_pretrained(arguments.model, subfolder="text_encoder"),
    }
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for component, wanted in (("unet", UNET_TARGETS), ("text_encoder", TEXT_LINEARS)):
        for name, module in modules(components[component], wanted):
            key = kohya_name(component, name)
            down, up = lora_factors(generator, module, arguments.rank)
            tensors[f"{key}.lora_down.weight"] = (down * 0.01).half()
            tensors[f"{key}.lora_up.weight"] = (up * 0.01).half()
            tensors[f"{key}.alpha"] = torch.tensor(float(arguments.rank)).half()
    save_tensors(tensors, arguments.out)
    modules_count = len(tensors) // 3
    parameters = sum(t.numel() for t in tensors.values())
    print(f"wrote {arguments.out}: {modules_count} modules, rank {arguments.rank}, {parameters:,} parameters")


if __name__ == "__main__":
    main()
