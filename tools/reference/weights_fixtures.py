"""Fixtures for the Weights module: safetensors reading, and LDM single-file -> diffusers renaming.

1. reader.safetensors: tensors of every float dtype (and an int64 one) written by the reference
   `safetensors` package, with metadata; reader.json holds their values as f64.
2. Tiny random diffusers models (UNet, VAE, CLIP text model, OpenCLIP-shaped text model,
   ControlNet) converted to the original LDM single-file key layout. The LDM state dicts are made
   here by an inverse mapping, then checked by converting them back with diffusers' own
   `convert_ldm_*` functions from diffusers/loaders/single_file_utils.py: only a layout those
   accept is written. ldm_*.json lists, per component, every diffusers key with its shape and the
   f64 sum of its values (as stored, i.e. after rounding to the file's dtype).

Writes Tests/Fixtures/weights/. Deterministic (seeded); re-runnable.
"""
import json
import os

import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "weights")


# ---------------------------------------------------------------- 1. reader fixture

def write_reader_fixture():
    g = torch.Generator().manual_seed(1)
    tensors = {
        "f32": torch.randn(2, 3, generator=g),
        "f16_odd": torch.randn(5, generator=g).to(torch.float16),
        "bf16": torch.randn(3, 2, generator=g).to(torch.bfloat16),
        "f64": torch.randn(4, generator=g).to(torch.float64),
        "f16_special": torch.tensor([0.0, -0.0, 65504.0, 6e-8, 1e-5, float("inf"), -1.5], dtype=torch.float16),
        "f32_after_odd": torch.randn(2, 2, generator=g),
        "i64": torch.arange(6, dtype=torch.int64).reshape(2, 3),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 4),
    }
    save_file(tensors, os.path.join(OUT, "reader.safetensors"), metadata={"format": "pt"})  # one key: the Rust writer orders a map randomly
    expected = {
        name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
               "values": [repr(v) for v in t.to(torch.float64).flatten().tolist()]}  # repr keeps inf
        for name, t in tensors.items()
    }
    with open(os.path.join(OUT, "reader.json"), "w") as f:
        json.dump({"metadata": {"format": "pt"}, "tensors": expected}, f, indent=1)


# ---------------------------------------------------------------- 2. tiny models

def tiny_unet(linear_projection, context_dim):
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(8, 8, 16),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=context_dim, attention_head_dim=2, norm_num_groups=4,
        use_linear_projection=linear_projection)


def tiny_vae():
    return AutoencoderKL(
        in_channels=3, out_channels=3, block_out_channels=(4, 8), layers_per_block=1, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=2)


def tiny_clip(act):
    return CLIPTextModel(CLIPTextConfig(
        vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, hidden_act=act, eos_token_id=2, bos_token_id=1, pad_token_id=1))


def tiny_controlnet():
    # Four conditioning channels entries: diffusers' converter assumes input_hint_block.14 is conv_out.
    return ControlNetModel(
        in_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), cross_attention_dim=8, attention_head_dim=2,
        norm_num_groups=4, conditioning_embedding_out_channels=(4, 4, 4, 4))


# ---------------------------------------------------------------- inverse renaming (diffusers -> LDM)

RESNET_TO_LDM = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
                 "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
UNET_TOP_TO_LDM = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
                   "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
                   "class_embedding.linear_1": "label_emb.0.0", "class_embedding.linear_2": "label_emb.0.2"}
CONTROLNET_TOP_TO_LDM = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
                         "conv_in": "input_blocks.0.0", "controlnet_cond_embedding.conv_in": "input_hint_block.0",
                         "controlnet_cond_embedding.conv_out": "input_hint_block.14",
                         "controlnet_mid_block": "middle_block_out.0"}


def resnet_to_ldm(rest):
    head, tail = rest.split(".", 1)
    return RESNET_TO_LDM[head] + "." + tail


def unet_key_to_ldm(key, lpb, up_has_attention, top):
    p = key.split(".")
    module, leaf = ".".join(p[:-1]), p[-1]
    if module in top:
        return top[module] + "." + leaf
    if key == "class_embedding.weight":
        return "label_emb.weight"
    if p[0] == "down_blocks":
        b = int(p[1])
        if p[2] == "downsamplers":
            return f"input_blocks.{1 + b * (lpb + 1) + lpb}.0.op." + ".".join(p[5:])
        i = 1 + b * (lpb + 1) + int(p[3])
        rest = ".".join(p[4:])
        return f"input_blocks.{i}.0." + resnet_to_ldm(rest) if p[2] == "resnets" else f"input_blocks.{i}.1." + rest
    if p[0] == "mid_block":
        rest = ".".join(p[3:])
        if p[1] == "attentions":
            return "middle_block.1." + rest
        return f"middle_block.{2 * int(p[2])}." + resnet_to_ldm(rest)
    if p[0] == "up_blocks":
        b = int(p[1])
        if p[2] == "upsamplers":
            slot = 2 if up_has_attention[b] else 1
            return f"output_blocks.{b * (lpb + 1) + lpb}.{slot}.conv." + ".".join(p[5:])
        i = b * (lpb + 1) + int(p[3])
        rest = ".".join(p[4:])
        return f"output_blocks.{i}.0." + resnet_to_ldm(rest) if p[2] == "resnets" else f"output_blocks.{i}.1." + rest
    if p[0] == "controlnet_down_blocks":
        return f"zero_convs.{p[1]}.0.{leaf}"
    if p[0] == "controlnet_cond_embedding" and p[1] == "blocks":
        return f"input_hint_block.{2 * (int(p[2]) + 1)}.{leaf}"
    raise KeyError(key)


VAE_ATTENTION_TO_LDM = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def vae_key_to_ldm(key, tensor, up_blocks):
    p = key.split(".")
    side = p[0]
    if p[1] == "conv_norm_out":
        return f"{side}.norm_out.{p[2]}", tensor
    if p[1] in ("down_blocks", "up_blocks"):
        i = int(p[2]) if p[1] == "down_blocks" else up_blocks - 1 - int(p[2])
        name = "down" if p[1] == "down_blocks" else "up"
        if p[3] == "resnets":
            return f"{side}.{name}.{i}.block.{p[4]}." + ".".join(p[5:]).replace("conv_shortcut", "nin_shortcut"), tensor
        sampler = "downsample" if p[1] == "down_blocks" else "upsample"
        return f"{side}.{name}.{i}.{sampler}.conv.{p[-1]}", tensor
    if p[1] == "mid_block":
        if p[2] == "resnets":
            return f"{side}.mid.block_{int(p[3]) + 1}." + ".".join(p[4:]).replace("conv_shortcut", "nin_shortcut"), tensor
        module, leaf = ".".join(p[4:-1]), p[-1]
        if leaf == "weight" and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]  # LDM stores these projections as 1x1 convolutions
        return f"{side}.mid.attn_1.{VAE_ATTENTION_TO_LDM[module]}.{leaf}", tensor
    return key, tensor  # conv_in, conv_out, quant_conv, post_quant_conv keep their names


def open_clip_to_ldm(state):
    out = {}
    for key, t in state.items():
        key = key.removeprefix("text_model.")
        if key == "embeddings.token_embedding.weight":
            out["token_embedding.weight"] = t
        elif key == "embeddings.position_embedding.weight":
            out["positional_embedding"] = t
        elif key.startswith("final_layer_norm."):
            out["ln_final." + key.split(".")[-1]] = t
        elif key.startswith("encoder.layers."):
            p = key.split(".")
            base = f"transformer.resblocks.{p[2]}."
            rest = ".".join(p[3:])
            if rest.startswith("self_attn.") and rest.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                continue  # fused below
            rest = (rest.replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2")
                    .replace("mlp.fc1", "mlp.c_fc").replace("mlp.fc2", "mlp.c_proj").replace("self_attn.", "attn."))
            out[base + rest] = t
        else:
            raise KeyError(key)
    layers = {k.split(".")[2] for k in state if "encoder.layers." in k}
    for i in layers:
        pre = f"encoder.layers.{i}.self_attn."
        for leaf in ("weight", "bias"):
            out[f"transformer.resblocks.{i}.attn.in_proj_{leaf}"] = torch.cat(
                [state[pre + f"{n}_proj.{leaf}"] for n in ("q", "k", "v")], dim=0)
    hidden = state["embeddings.token_embedding.weight"].shape[1]
    g = torch.Generator().manual_seed(7)
    out["text_projection"] = torch.randn(hidden, hidden, generator=g)
    out["logit_scale"] = torch.tensor(4.6052)
    return out


# ---------------------------------------------------------------- conversion round trip

def rounded(state, dtype):
    return {k: v.detach().to(dtype).contiguous() for k, v in state.items()}


def summary(state):
    return {k: {"shape": list(v.shape), "sum": float(v.to(torch.float64).sum())} for k, v in sorted(state.items())}


def assert_same(converted, reference, what):
    assert set(converted) == set(reference), f"{what}: {set(converted) ^ set(reference)}"
    for k in reference:
        assert torch.equal(converted[k].to(reference[k].dtype), reference[k]), f"{what}: {k}"


def up_attention_flags(unet):
    return [hasattr(block, "attentions") for block in unet.up_blocks]


def checkpoint_for(unet, vae, clip_state, clip_kind, dtype):
    unet_state = rounded(unet.state_dict(), dtype)
    vae_state = rounded(vae.state_dict(), dtype)
    ldm = {}
    lpb = unet.config.layers_per_block
    for k, v in unet_state.items():
        ldm["model.diffusion_model." + unet_key_to_ldm(k, lpb, up_attention_flags(unet), UNET_TOP_TO_LDM)] = v
    for k, v in vae_state.items():
        name, t = vae_key_to_ldm(k, v, len(vae.config.up_block_types))
        ldm["first_stage_model." + name] = t.contiguous()
    clip_state = rounded(clip_state, dtype)
    if clip_kind == "clip":
        for k, v in clip_state.items():
            ldm["cond_stage_model.transformer.text_model." + k] = v
        ldm["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch.arange(77).reshape(1, 77)
    else:
        for k, v in open_clip_to_ldm(clip_state).items():
            ldm["cond_stage_model.model." + k] = v.to(dtype).contiguous()

    # diffusers' own converters must give the diffusers state dicts back.
    assert_same(sfu.convert_ldm_unet_checkpoint(ldm, unet.config), unet_state, "unet")
    assert_same(sfu.convert_ldm_vae_checkpoint(ldm, vae.config), vae_state, "vae")
    if clip_kind == "clip":
        text = sfu.convert_ldm_clip_checkpoint(ldm)
        text.pop("text_model.embeddings.position_ids")  # a buffer; transformers 5 does not load it
    else:
        text = sfu.convert_open_clip_checkpoint(tiny_clip("gelu"), ldm, prefix="cond_stage_model.model.")
    assert_same({k.removeprefix("text_model."): v for k, v in text.items()}, clip_state, clip_kind)
    expected = {"unet": summary(unet_state), "vae": summary(vae_state), "text_encoder": summary(clip_state)}
    return ldm, expected


def controlnet_checkpoint():
    net = tiny_controlnet()
    state = rounded(net.state_dict(), torch.float32)
    ldm = {"control_model." + unet_key_to_ldm(k, 1, [], CONTROLNET_TOP_TO_LDM): v for k, v in state.items()}
    stripped = {k.removeprefix("control_model."): v for k, v in ldm.items()}
    assert_same(sfu.convert_controlnet_checkpoint(stripped, net.config), state, "controlnet")
    return ldm, {"controlnet": summary(state)}


def write_ldm(name, ldm, expected, info):
    save_file(ldm, os.path.join(OUT, f"{name}.safetensors"))
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(dict(info, components=expected), f, indent=0)


def main():
    os.makedirs(OUT, exist_ok=True)
    write_reader_fixture()

    torch.manual_seed(0)
    ldm, expected = checkpoint_for(tiny_unet(False, 8), tiny_vae(), tiny_clip("quick_gelu").state_dict(),
                                   "clip", torch.float16)
    write_ldm("ldm_sd1", ldm, expected, {"layers_per_block": 2, "vae_up_blocks": 2, "text_encoder": "clip"})

    torch.manual_seed(1)
    ldm, expected = checkpoint_for(tiny_unet(True, 16), tiny_vae(), tiny_clip("gelu").state_dict(),
                                   "open_clip", torch.bfloat16)
    write_ldm("ldm_sd2", ldm, expected, {"layers_per_block": 2, "vae_up_blocks": 2, "text_encoder": "open_clip"})

    torch.manual_seed(2)
    ldm, expected = controlnet_checkpoint()
    write_ldm("ldm_controlnet", ldm, expected, {"layers_per_block": 1})
    print("ok:", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
