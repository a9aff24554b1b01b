"""Parity fixtures for UNet2DConditionModel: tiny random diffusers UNets and their outputs.

Writes Tests/Fixtures/unet/<variant>/ with
  config.json, diffusion_pytorch_model.safetensors  (the model, saved by diffusers)
  io.safetensors  (sample, encoder_hidden_states, timestep [1], output; optionally
                   class_labels, ControlNet residuals down_residual_<i> / mid_residual and
                   output_controlnet)

Variants:
  sd1      SD 1.x layout (conv projections), plus a call with ControlNet residuals
  sd2      SD 2.x layout: use_linear_projection, per-block attention_head_dim, upcast_attention
  inpaint  9 input channels (dedicated inpainting UNet)
  upscale  the x4 upscaler's features: 7 input channels, a class embedding table (its noise
           level), per-block only_cross_attention, linear projections

Weights are saved in f16 to keep the four fixtures under 600 KB: they are rounded to f16
*before* the reference runs (the model itself runs in f32), so the f16 file holds exactly
the weights that produced the output and the parity check is still an f32 one.

Deterministic: re-running rewrites identical files.
Run: /tmp/ref/bin/python tools/reference/unet_fixtures.py
"""

import json
import os

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "unet")

BASE = dict(
    sample_size=8,
    in_channels=4,
    out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(8, 16),
    layers_per_block=1,
    cross_attention_dim=16,
    attention_head_dim=2,
    norm_num_groups=4,
)

VARIANTS = {
    "sd1": dict(BASE),
    "sd2": dict(BASE, use_linear_projection=True, attention_head_dim=[2, 4], upcast_attention=True),
    "inpaint": dict(BASE, in_channels=9),
    "upscale": dict(BASE, in_channels=7, num_class_embeds=12, only_cross_attention=[True, False],
                    use_linear_projection=True),
}

TIMESTEPS = {"sd1": 981.0, "sd2": 17.5, "inpaint": 501.0, "upscale": 20.0}


def randomize_norms(model, generator):
    """Default init leaves every norm at weight 1, bias 0; perturb them so a swapped or
    ignored norm parameter shows in the output."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" not in name:
                continue
            noise = torch.randn(parameter.shape, generator=generator) * 0.1
            parameter.copy_(1 + noise if name.endswith("weight") else noise)


def build(name, config, seed):
    torch.manual_seed(seed)
    model = UNet2DConditionModel(**config).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    randomize_norms(model, generator)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    model.half().save_pretrained(folder, safe_serialization=True)
    model.float()
    os.remove(os.path.join(folder, "config.json"))
    # diffusers' config in a stable order, without its bookkeeping list of defaulted keys.
    config_dict = {k: v for k, v in model.config.items() if k != "_use_default_values"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config_dict, f, indent=2, sort_keys=True, default=list)
        f.write("\n")
    return model, generator, folder


def run(name, config, seed):
    model, generator, folder = build(name, config, seed)
    batch, tokens = 2, 5
    sample = torch.randn(batch, config["in_channels"], 8, 8, generator=generator)
    states = torch.randn(batch, tokens, config["cross_attention_dim"], generator=generator)
    timestep = TIMESTEPS[name]
    tensors = {
        "sample": sample,
        "encoder_hidden_states": states,
        "timestep": torch.tensor([timestep], dtype=torch.float32),
    }
    kwargs = {}
    if "num_class_embeds" in config:
        labels = torch.tensor([3, 11])
        tensors["class_labels"] = labels.float()
        kwargs["class_labels"] = labels
    with torch.no_grad():
        # output = unet(sample, timestep, encoder_hidden_states=states).sample
        tensors["output"] = model(sample, timestep, encoder_hidden_states=states, **kwargs).sample
        if name == "sd1":
            add_controlnet_call(model, sample, timestep, states, generator, tensors)
            add_odd_size_call(model, timestep, states, generator, tensors)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, "io.safetensors"))
    print(name, "output", tuple(tensors["output"].shape), "max", tensors["output"].abs().max().item())


def add_odd_size_call(model, timestep, states, generator, tensors):
    """7x5 is not a multiple of 2 (one upsampler): diffusers then upsamples to the skip
    connection's size instead of doubling."""
    sample = torch.randn(2, 4, 7, 5, generator=generator)
    tensors["sample_odd"] = sample
    # output_odd = unet(sample_odd, t, encoder_hidden_states=states).sample
    tensors["output_odd"] = model(sample, timestep, encoder_hidden_states=states).sample


def write_timestep_embeddings():
    """get_timestep_embedding directly, for an even SD-style width and an odd width with
    the other flags."""
    from diffusers.models.embeddings import get_timestep_embedding

    timesteps = torch.tensor([0.0, 1.0, 17.5, 999.0])
    tensors = {
        "timesteps": timesteps,
        # get_timestep_embedding(timesteps, 8, flip_sin_to_cos=True, downscale_freq_shift=0)
        "dim8_flip_shift0": get_timestep_embedding(timesteps, 8, flip_sin_to_cos=True, downscale_freq_shift=0),
        # get_timestep_embedding(timesteps, 7, flip_sin_to_cos=False, downscale_freq_shift=1)
        "dim7_noflip_shift1": get_timestep_embedding(timesteps, 7, flip_sin_to_cos=False, downscale_freq_shift=1),
    }
    save_file(tensors, os.path.join(ROOT, "timesteps.safetensors"))


def write_sd15_layout():
    """The SD 1.5 UNet's topology (diffusers' defaults: 4 levels, 2 layers per block, 3
    cross-attention levels) at narrow widths: its parameter names and shapes, no weights.
    The real model's names are the same; only the widths differ."""
    config = dict(sample_size=8, cross_attention_dim=16, block_out_channels=(32, 64, 128, 128),
                  norm_num_groups=8, attention_head_dim=8)
    with torch.device("meta"):
        model = UNet2DConditionModel(**config)
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    with open(os.path.join(ROOT, "sd15_layout.json"), "w") as f:
        json.dump({"config": config, "shapes": shapes}, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")


def add_controlnet_call(model, sample, timestep, states, generator, tensors):
    """The residual shapes are those of the down-path skip connections, which a ControlNet
    of the same layout produces: conv_in, one per resnet, one per downsampler."""
    shapes = [(2, 8, 8, 8), (2, 8, 8, 8), (2, 8, 4, 4), (2, 16, 4, 4)]
    down = [torch.randn(s, generator=generator) for s in shapes]
    mid = torch.randn((2, 16, 4, 4), generator=generator)
    for index, residual in enumerate(down):
        tensors[f"down_residual_{index}"] = residual
    tensors["mid_residual"] = mid
    # output_controlnet = unet(sample, t, states, down_block_additional_residuals=down,
    #                          mid_block_additional_residual=mid).sample
    tensors["output_controlnet"] = model(
        sample, timestep, encoder_hidden_states=states,
        down_block_additional_residuals=tuple(down), mid_block_additional_residual=mid,
    ).sample


if __name__ == "__main__":
    for seed, (name, config) in enumerate(VARIANTS.items()):
        run(name, config, 1000 + 10 * seed)
    write_timestep_embeddings()
    write_sd15_layout()
