"""A single-file (original LDM layout) checkpoint of the tiny pipeline in
Tests/Fixtures/pipelines/sd-tiny, for Overpaint's single-file loading tests.

The diffusers -> LDM renaming is written here from diffusers' scripts/convert_diffusers_to_original_stable_diffusion.py,
then checked by converting the result back with diffusers' own convert_ldm_unet_checkpoint /
convert_ldm_vae_checkpoint: every tensor must come back under its diffusers name, unchanged.

To keep the fixture small it holds the UNet and the VAE (model.diffusion_model.*, first_stage_model.*);
the test adds sd-tiny's text encoder under cond_stage_model.transformer.text_model.* (a pure prefix).
Writes Tests/Fixtures/singlefile/sd-tiny-unet-vae.safetensors.
Run: /tmp/ref/bin/python tools/reference/singlefile_fixtures.py
"""
import json
from pathlib import Path

import torch
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
SD = ROOT / "Tests/Fixtures/pipelines/sd-tiny"
OUT = ROOT / "Tests/Fixtures/singlefile/sd-tiny-unet-vae.safetensors"

RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
          ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]


def swap(rest, table):
    for old, new in table:
        if rest.startswith(old + "."):
            return new + rest[len(old):]
    raise KeyError(rest)


def unet_name(name, layers, attention_up_blocks):
    top = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
           "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}
    for old, new in top.items():
        if name.startswith(old + "."):
            return new + name[len(old):]
    p = name.split(".")
    slot = layers + 1
    if p[0] == "mid_block":
        rest = ".".join(p[3:])
        return f"middle_block.{2 * int(p[2])}.{swap(rest, RESNET)}" if p[1] == "resnets" else f"middle_block.1.{rest}"
    block, kind = int(p[1]), p[2]
    if kind == "downsamplers":
        return f"input_blocks.{(block + 1) * slot}.0.op.{p[5]}"
    if kind == "upsamplers":
        return f"output_blocks.{block * slot + layers}.{2 if block in attention_up_blocks else 1}.conv.{p[5]}"
    layer, rest = int(p[3]), ".".join(p[4:])
    index = 1 + block * slot + layer if p[0] == "down_blocks" else block * slot + layer
    prefix = "input_blocks" if p[0] == "down_blocks" else "output_blocks"
    return f"{prefix}.{index}.0.{swap(rest, RESNET)}" if kind == "resnets" else f"{prefix}.{index}.1.{rest}"


def vae_name(name, up_blocks):
    p = name.split(".")
    if p[0] in ("quant_conv", "post_quant_conv") or p[1] in ("conv_in", "conv_out"):
        return name, False
    side = p[0]
    if p[1] == "conv_norm_out":
        return f"{side}.norm_out.{p[2]}", False
    if p[1] == "mid_block" and p[2] == "resnets":
        return f"{side}.mid.block_{int(p[3]) + 1}.{'.'.join(p[4:])}", False
    if p[1] == "mid_block":
        module = "to_out.0" if p[4] == "to_out" else p[4]
        new = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}[module]
        return f"{side}.mid.attn_1.{new}.{p[-1]}", new != "norm" and p[-1] == "weight"
    block = int(p[2])
    level = f"down.{block}" if p[1] == "down_blocks" else f"up.{up_blocks - 1 - block}"
    if p[3] in ("downsamplers", "upsamplers"):
        return f"{side}.{level}.{'downsample' if p[3] == 'downsamplers' else 'upsample'}.conv.{p[-1]}", False
    rest = ".".join(p[5:]).replace("conv_shortcut", "nin_shortcut")
    return f"{side}.{level}.block.{p[4]}.{rest}", False


def main():
    unet = load_file(SD / "unet/diffusion_pytorch_model.safetensors")
    vae = load_file(SD / "vae/diffusion_pytorch_model.safetensors")
    unet_config = json.loads((SD / "unet/config.json").read_text())
    vae_config = json.loads((SD / "vae/config.json").read_text())
    layers = unet_config["layers_per_block"]
    attention_up = {i for i, t in enumerate(unet_config["up_block_types"]) if t.startswith("CrossAttn")}
    ldm = {}
    for name, tensor in unet.items():
        ldm["model.diffusion_model." + unet_name(name, layers, attention_up)] = tensor
    for name, tensor in vae.items():
        new, as_conv = vae_name(name, len(vae_config["up_block_types"]))
        ldm["first_stage_model." + new] = tensor[:, :, None, None] if as_conv else tensor
    ldm = {k: v.contiguous() for k, v in ldm.items()}

    # diffusers' own LDM -> diffusers conversion must give every tensor back unchanged.
    back_unet = convert_ldm_unet_checkpoint(ldm, unet_config)
    back_vae = convert_ldm_vae_checkpoint(ldm, vae_config)
    for original, back in ((unet, back_unet), (vae, back_vae)):
        assert set(original) == set(back), set(original) ^ set(back)
        for key, tensor in original.items():
            assert torch.equal(tensor, back[key].reshape(tensor.shape)), key

    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(ldm, OUT, metadata={"format": "pt", "source": "Tests/Fixtures/pipelines/sd-tiny (unet, vae)"})
    print(f"wrote {OUT} ({len(ldm)} tensors, {OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
