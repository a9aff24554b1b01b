"""Parity fixtures for Overpaint's VAE and its shared blocks (Tests/Fixtures/vae/).

Builds tiny random diffusers modules with fixed seeds and records their inputs and outputs:
  blocks.safetensors        weights of each block under its own prefix ("resnet_temb.norm1.weight")
  block_io.safetensors      "<case>.input" / "<case>.output" (and extra inputs) for each block
  config.json + diffusion_pytorch_model.safetensors   a tiny AutoencoderKL, saved by diffusers
  vae_io.safetensors        encode mean/logvar, a seeded posterior sample, decode, tiled decode/encode
  sd_vae_shapes.json        every parameter name and shape of the real SD 1.x/2.x VAE architecture

Run from the package root: /tmp/ref/bin/python tools/reference/vae_fixtures.py
"""
import json
import os

import torch
from safetensors.torch import save_file
from diffusers import AutoencoderKL
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from diffusers.models.downsampling import Downsample2D
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.upsampling import Upsample2D

OUT = os.path.join("Tests", "Fixtures", "vae")


def randomize(module, seed):
    """Default init leaves norms at 1/0; perturb every parameter so each one matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "norm" in name and name.endswith("weight"):
                parameter.copy_(1 + 0.2 * noise)
            elif name.endswith("bias"):
                parameter.copy_(0.2 * noise)
            else:
                parameter.add_(0.05 * noise)
    return module.eval()


def prefixed(prefix, module):
    return {f"{prefix}.{k}": v.detach().clone().contiguous() for k, v in module.state_dict().items()}


def blocks():
    torch.manual_seed(1)
    weights, io = {}, {}

    def record(name, module, inputs, output):
        weights.update(prefixed(name, module))
        for key, value in inputs.items():
            io[f"{name}.{key}"] = value.contiguous()
        io[f"{name}.output"] = output.detach().contiguous()

    with torch.no_grad():
        resnet = randomize(ResnetBlock2D(in_channels=8, out_channels=16, temb_channels=12, groups=4, eps=1e-6), 10)
        x, temb = torch.randn(2, 8, 5, 6), torch.randn(2, 12)
        record("resnet_temb", resnet, {"input": x, "temb": temb}, resnet(x, temb))

        resnet = randomize(ResnetBlock2D(in_channels=8, out_channels=8, temb_channels=None, groups=4, eps=1e-6,
                                         output_scale_factor=2.0), 11)
        x = torch.randn(1, 8, 6, 5)
        record("resnet_plain", resnet, {"input": x}, resnet(x, None))

        resnet = randomize(ResnetBlock2D(in_channels=8, out_channels=8, temb_channels=12, groups=4, groups_out=2,
                                         time_embedding_norm="scale_shift"), 12)
        x, temb = torch.randn(1, 8, 4, 4), torch.randn(1, 12)
        record("resnet_scale_shift", resnet, {"input": x, "temb": temb}, resnet(x, temb))

        down = randomize(Downsample2D(8, use_conv=True, out_channels=8, padding=1, name="op"), 13)
        x = torch.randn(1, 8, 7, 6)
        record("down_pad1", down, {"input": x}, down(x))

        down = randomize(Downsample2D(8, use_conv=True, out_channels=8, padding=0, name="op"), 14)
        x = torch.randn(1, 8, 7, 6)
        record("down_pad0", down, {"input": x}, down(x))

        up = randomize(Upsample2D(8, use_conv=True, out_channels=4), 15)
        x = torch.randn(1, 8, 3, 4)
        record("up", up, {"input": x}, up(x))
        up = randomize(Upsample2D(8, use_conv=True), 16)
        x = torch.randn(1, 8, 3, 4)
        record("up_sized", up, {"input": x}, up(x, output_size=(7, 9)))

        attn = randomize(Attention(query_dim=16, heads=1, dim_head=16, rescale_output_factor=1.5, eps=1e-6,
                                   norm_num_groups=4, spatial_norm_dim=None, residual_connection=True, bias=True,
                                   upcast_softmax=True, _from_deprecated_attn_block=True), 17)
        attn.set_processor(AttnProcessor2_0())
        x = torch.randn(2, 16, 3, 5)
        record("attn_spatial", attn, {"input": x}, attn(x))

        attn = randomize(Attention(query_dim=16, cross_attention_dim=12, heads=2, dim_head=8, bias=False), 18)
        attn.set_processor(AttnProcessor2_0())
        x, context = torch.randn(2, 7, 16), torch.randn(2, 5, 12)
        record("attn_cross", attn, {"input": x, "context": context}, attn(x, encoder_hidden_states=context))

        attn = randomize(Attention(query_dim=16, heads=4, dim_head=4, bias=True, norm_num_groups=4,
                                   residual_connection=True), 19)
        attn.set_processor(AttnProcessor2_0())
        x = torch.randn(1, 9, 16)
        record("attn_self", attn, {"input": x}, attn(x))

    save_file(weights, os.path.join(OUT, "blocks.safetensors"))
    save_file(io, os.path.join(OUT, "block_io.safetensors"))


def vae():
    torch.manual_seed(2)
    model = AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=32,
    )
    randomize(model, 20)
    model.save_pretrained(OUT, safe_serialization=True)
    io = {}
    with torch.no_grad():
        image = torch.rand(1, 3, 20, 18, generator=torch.Generator().manual_seed(3)) * 2 - 1
        posterior = model.encode(image).latent_dist
        io["encode.input"] = image
        io["encode.mean"] = posterior.mean
        io["encode.logvar"] = posterior.logvar
        io["sample.output"] = posterior.sample(generator=torch.Generator("cpu").manual_seed(0))
        latent = torch.randn(1, 4, 6, 5, generator=torch.Generator().manual_seed(4))
        io["decode.input"] = latent
        io["decode.output"] = model.decode(latent).sample

        # Tiles of 16 pixels / 8 latents: overlaps of 12 / 6 steps, blends of 4 / 2 rows.
        model.enable_tiling()
        model.tile_sample_min_size = 16
        model.tile_latent_min_size = 8
        latent = torch.randn(1, 4, 13, 11, generator=torch.Generator().manual_seed(5))
        io["tiled_decode.input"] = latent
        io["tiled_decode.output"] = model.decode(latent).sample
        image = torch.rand(1, 3, 30, 26, generator=torch.Generator().manual_seed(6)) * 2 - 1
        posterior = model.encode(image).latent_dist
        io["tiled_encode.input"] = image
        io["tiled_encode.mean"] = posterior.mean
        io["tiled_encode.logvar"] = posterior.logvar
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(OUT, "vae_io.safetensors"))


def sd_shapes():
    with torch.device("meta"):
        model = AutoencoderKL(
            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
            block_out_channels=[128, 256, 512, 512], layers_per_block=2, sample_size=512,
        )
    shapes = {name: list(value.shape) for name, value in model.state_dict().items()}
    with open(os.path.join(OUT, "sd_vae_shapes.json"), "w") as f:
        json.dump(shapes, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    sd_shapes()
    blocks()
    vae()
    with open(os.path.join(OUT, "config.json")) as f:
        print(json.dumps(json.load(f), indent=1))
