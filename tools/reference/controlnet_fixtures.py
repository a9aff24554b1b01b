"""Parity fixtures for ControlNetModel: a tiny random diffusers ControlNet and its outputs.

Writes Tests/Fixtures/controlnet/ with
  config.json, diffusion_pytorch_model.safetensors  (the model, saved by diffusers, f16)
  io.safetensors  (sample, encoder_hidden_states, timestep [1], controlnet_cond,
                   conditioning_scale [1], down_<i> / mid (the scaled residuals),
                   guess_down_<i> / guess_mid (the same call in guess mode),
                   bgr_down_<i> / bgr_mid and pooled_down_<i> / pooled_mid (the same weights
                   configured with controlnet_conditioning_channel_order "bgr", and with
                   global_pool_conditions), and
                   unet_output: Tests/Fixtures/unet/sd1's UNet called with down_<i> / mid)

The ControlNet is `ControlNetModel.from_unet` of the sd1 fixture UNet (same tiny sizes)
without copying its weights; every parameter is random, including the zero-initialised
convolutions (controlnet_down_blocks, controlnet_mid_block, controlnet_cond_embedding.conv_out),
so the residuals are not zero and the check means something. Weights are rounded to f16
before the reference runs, so the f16 file holds exactly the weights that made the outputs.

Deterministic: re-running rewrites identical files.
Run: /tmp/ref/bin/python tools/reference/controlnet_fixtures.py
"""

import torch
from diffusers import UNet2DConditionModel
from fixture_io import FIXTURES, save_tensors, write_json
from tiny_models import controlnet_from_unet, round_to_half, save_half

OUT = FIXTURES / "controlnet"
UNET = FIXTURES / "unet" / "sd1"
SEED = 2000
ZERO_INIT = ("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")


def build(unet):
    generator = torch.Generator().manual_seed(SEED + 1)
    model = round_to_half(controlnet_from_unet(unet, SEED, (4, 4, 8, 8), ZERO_INIT, generator))
    save_half(model, OUT)
    config = dict(model.config)
    # diffusers builds this list from a set, so its order would change from run to run.
    config["_use_default_values"] = sorted(config.get("_use_default_values", []))
    write_json(OUT / "config.json", config)
    return model, generator


def main():
    unet = UNet2DConditionModel.from_pretrained(UNET, torch_dtype=torch.float32).eval()
    model, generator = build(unet)
    sample = torch.randn(2, 4, 8, 8, generator=generator)
    states = torch.randn(2, 5, 16, generator=generator)
    cond = torch.rand(2, 3, 64, 64, generator=generator)
    timestep, scale = 741.0, 0.7
    tensors = {
        "sample": sample,
        "encoder_hidden_states": states,
        "timestep": torch.tensor([timestep]),
        "controlnet_cond": cond,
        "conditioning_scale": torch.tensor([scale]),
    }
    with torch.no_grad():
        # down, mid = controlnet(sample, t, states, controlnet_cond=cond, conditioning_scale=scale)
        down, mid = model(sample, timestep, encoder_hidden_states=states, controlnet_cond=cond,
                          conditioning_scale=scale, return_dict=False)
        guess_down, guess_mid = model(sample, timestep, encoder_hidden_states=states, controlnet_cond=cond,
                                      conditioning_scale=scale, guess_mode=True, return_dict=False)
        # The same weights configured with controlnet_conditioning_channel_order "bgr", then with
        # global_pool_conditions (both read from the config at call time).
        model.register_to_config(controlnet_conditioning_channel_order="bgr")
        bgr_down, bgr_mid = model(sample, timestep, encoder_hidden_states=states, controlnet_cond=cond,
                                  conditioning_scale=scale, return_dict=False)
        model.register_to_config(controlnet_conditioning_channel_order="rgb", global_pool_conditions=True)
        pooled_down, pooled_mid = model(sample, timestep, encoder_hidden_states=states, controlnet_cond=cond,
                                        conditioning_scale=scale, return_dict=False)
        model.register_to_config(global_pool_conditions=False)
        # unet_output = unet(sample, t, states, down_block_additional_residuals=down,
        #                    mid_block_additional_residual=mid).sample
        tensors["unet_output"] = unet(sample, timestep, encoder_hidden_states=states,
                                      down_block_additional_residuals=down,
                                      mid_block_additional_residual=mid).sample
    for index, residuals in enumerate(zip(down, guess_down, bgr_down, pooled_down)):
        for prefix, residual in zip(("", "guess_", "bgr_", "pooled_"), residuals):
            tensors[f"{prefix}down_{index}"] = residual
    for prefix, residual in zip(("", "guess_", "bgr_", "pooled_"), (mid, guess_mid, bgr_mid, pooled_mid)):
        tensors[f"{prefix}mid"] = residual
    save_tensors(tensors, OUT / "io.safetensors")
    print("down", [tuple(d.shape) for d in down], "mid", tuple(mid.shape),
          "max", max(d.abs().max().item() for d in down), mid.abs().max().item())


if __name__ == "__main__":
    main()
