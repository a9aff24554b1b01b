"""Parity fixtures for LoRA on SDXL: files in the layouts SDXL LoRAs come in, the weights diffusers
fuses from them into Tests/Fixtures/sdxl/sdxl-tiny (sdxl_fixtures.py's tiny SDXL pipeline), and an
img2img output with them fused.

Writes Tests/Fixtures/sdxl-lora/:
  kohya.safetensors   kohya-ss sd-scripts' SDXL layout: lora_unet_* named after sgm's UNet
                      (input_blocks / middle_block / output_blocks, as sd-scripts trains SDXL on its
                      sgm UNet), lora_te1_* (CLIP-L) and lora_te2_* (OpenCLIP bigG) named after
                      transformers 4's modules (text_model.*); .lora_down / .lora_up / .alpha.
                      Rank 4 alpha 2 on every transformer linear (attention, feed-forward, proj_in /
                      proj_out) and the encoders' attention and MLP linears; rank 2 alpha 1 on the
                      resnets' convolutions, time projections and shortcuts, the downsamplers and
                      upsamplers (LoCon)
  peft.safetensors    diffusers / PEFT layout (unet.*, text_encoder.*, text_encoder_2.* lora_A / lora_B),
                      written by StableDiffusionXLPipeline.save_lora_weights with its adapter
                      metadata (r 4, lora_alpha 8; text_encoder_2 r 2, lora_alpha 4)
  <case>.safetensors  for each case in cases.json, every weight the case changes, fused, as f32,
                      named "<component>.<key>" (unet, text_encoder or text_encoder_2)
  cases.json          each case: the files in order with their weights and the changed keys
  img2img_lora.png    StableDiffusionXLImg2ImgPipeline on sdxl-tiny after IMG2IMG's files are fused,
                      from Tests/Fixtures/sdxl/input.png

Every case is fused by diffusers 0.42.1 itself: sdxl-tiny's components (f32), then, per file,
load_lora_weights(file), fuse_lora(lora_scale=weight) and unload_lora_weights(), so files stack in
order. The script checks that diffusers changed exactly the modules each file names, so nothing is
silently skipped, and that the kohya file's updates are lora_up @ lora_down * alpha / rank on the
modules the sgm names mean. Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/sdxl_lora_fixtures.py
"""

import json
import re
import shutil

import torch
from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline,
                       UNet2DConditionModel)
from fixture_io import FIXTURES, save_tensors, write_json
# Importing lora_fixtures also lifts transformers' peft version gate, as that script explains.
from lora_fixtures import TEXT_LINEARS, fuse_with_diffusers, modules, named_weights
from PIL import Image
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tiny_models import TOKENIZER, load_f32
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

BASE = FIXTURES / "sdxl" / "sdxl-tiny"
OUT = FIXTURES / "sdxl-lora"
ADAPTER_METADATA = "lora_adapter_metadata"
KOHYA_PREFIXES = {"unet": "lora_unet_", "text_encoder": "lora_te1_", "text_encoder_2": "lora_te2_"}


def load_components():
    return load_f32(BASE, unet=UNet2DConditionModel, text_encoder=CLIPTextModel,
                    text_encoder_2=CLIPTextModelWithProjection)


def pipeline(components):
    return StableDiffusionXLImg2ImgPipeline(
        vae=AutoencoderKL.from_pretrained(BASE / "vae"), tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER),
        tokenizer_2=CLIPTokenizer.from_pretrained(TOKENIZER, pad_token="!"),
        scheduler=EulerDiscreteScheduler.from_pretrained(BASE / "scheduler"), requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True, add_watermarker=False, **components,
    )


def sgm_name(name, layers_per_block, up_blocks_with_attention):
    """A diffusers UNet module name as sgm's UNet (and so sd-scripts' SDXL LoRA) names it, following
    diffusers' scripts/convert_diffusers_to_original_sdxl.py."""
    slot = layers_per_block + 1
    resnet = [("conv1", "in_layers.2"), ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"),
              ("conv_shortcut", "skip_connection")]
    def inner(rest):
        for old, new in resnet:
            rest = re.sub(rf"^{old}$", new, rest)
        return rest
    # A down block's layer l is input block 1 + block * slot + l, an up block's output block
    # block * slot + l; in it, the resnet comes first, then the attention.
    match = re.fullmatch(r"(down|up)_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", name)
    if match:
        side, block, kind, layer, rest = match.groups()
        if side == "down":
            prefix, index = "input_blocks", 1 + int(block) * slot + int(layer)
        else:
            prefix, index = "output_blocks", int(block) * slot + int(layer)
        return f"{prefix}.{index}.0.{inner(rest)}" if kind == "resnets" else f"{prefix}.{index}.1.{rest}"
    patterns = [
        (r"down_blocks\.(\d+)\.downsamplers\.0\.conv",
         lambda b: f"input_blocks.{(int(b) + 1) * slot}.0.op"),
        (r"mid_block\.resnets\.(\d+)\.(.+)", lambda l, rest: f"middle_block.{2 * int(l)}.{inner(rest)}"),
        (r"mid_block\.attentions\.0\.(.+)", lambda rest: f"middle_block.1.{rest}"),
        (r"up_blocks\.(\d+)\.upsamplers\.0\.conv",
         lambda b: f"output_blocks.{int(b) * slot + layers_per_block}.{2 if int(b) in up_blocks_with_attention else 1}.conv"),
    ]
    for pattern, rename in patterns:
        match = re.fullmatch(pattern, name)
        if match:
            return rename(*match.groups())
    raise ValueError(name)


TRANSFORMER_LINEARS = lambda name, m: isinstance(m, torch.nn.Linear) and ".attentions." in name
RESNETS_AND_SAMPLERS = lambda name, m: any(part in name for part in (".resnets.", "samplers.0.conv"))


def kohya_name(component, name, unet_config):
    if component == "unet":
        with_attention = {i for i, kind in enumerate(unet_config.up_block_types) if kind.startswith("CrossAttn")}
        name = sgm_name(name, unet_config.layers_per_block, with_attention)
    elif not name.startswith("text_model."):
        # sd-scripts names text encoder modules from transformers 4's classes, under `text_model.`
        name = "text_model." + name
    return KOHYA_PREFIXES[component] + name.replace(".", "_")


def write_kohya(path, components):
    generator = torch.Generator().manual_seed(51)
    config = components["unet"].config
    tensors, targets = {}, {}
    selections = [("unet", TRANSFORMER_LINEARS, 4, 2.0), ("unet", RESNETS_AND_SAMPLERS, 2, 1.0),
                  ("text_encoder", TEXT_LINEARS, 4, 2.0), ("text_encoder_2", TEXT_LINEARS, 4, 2.0)]
    for component, wanted, rank, alpha in selections:
        for name, module in modules(components[component], wanted):
            key = kohya_name(component, name, config)
            weight = module.weight
            kernel = tuple(weight.shape[2:])
            tensors[f"{key}.lora_down.weight"] = torch.randn((rank, weight.shape[1], *kernel), generator=generator) * 0.3
            tensors[f"{key}.lora_up.weight"] = torch.randn((weight.shape[0], rank, *([1] * len(kernel))), generator=generator) * 0.3
            tensors[f"{key}.alpha"] = torch.tensor(alpha)
            targets[key] = f"{component}.{name}.weight"
    save_tensors(tensors, path)
    return targets


def write_peft(path):
    components = load_components()
    torch.manual_seed(52)
    configs = {
        "unet": LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                           target_modules=["to_q", "to_k", "to_v", "to_out.0", "proj_in", "ff.net.2", "conv1"]),
        "text_encoder": LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                                   target_modules=["q_proj", "k_proj", "v_proj", "out_proj"]),
        "text_encoder_2": LoraConfig(r=2, lora_alpha=4, init_lora_weights=False,
                                     target_modules=["q_proj", "v_proj", "fc1", "fc2"]),
    }
    for component, config in configs.items():
        components[component].add_adapter(config)
    folder = OUT / "peft-save"
    StableDiffusionXLImg2ImgPipeline.save_lora_weights(
        folder, **{f"{component}_lora_layers": get_peft_model_state_dict(components[component]) for component in configs},
        **{f"{component}_lora_adapter_metadata": config.to_dict() for component, config in configs.items()},
    )
    # The metadata as PEFT writes it, less what changes between runs and checkouts: the set order
    # of target_modules and the base model's absolute path.
    with safe_open(folder / "pytorch_lora_weights.safetensors", "pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    settings = json.loads(metadata[ADAPTER_METADATA])
    for key, value in settings.items():
        if key.endswith(".target_modules"):
            settings[key] = sorted(value)
        elif key.endswith(".base_model_name_or_path"):
            settings[key] = None
    save_file(tensors, path, metadata=dict(metadata, **{ADAPTER_METADATA: json.dumps(settings, indent=2, sort_keys=True)}))
    shutil.rmtree(folder)


def diffusers_fused(files):
    components = load_components()
    pipe = pipeline(components)
    fuse_with_diffusers(pipe, OUT, files)
    return pipe, named_weights(components)


def kohya_formula(base, targets, weight):
    """sdxl-tiny's weights with kohya.safetensors added by the LoRA formula, on the modules
    `targets` maps its sgm names to."""
    fused = dict(base)
    tensors = load_file(OUT / "kohya.safetensors")
    for key, target in targets.items():
        down, up = tensors[f"{key}.lora_down.weight"], tensors[f"{key}.lora_up.weight"]
        rank = down.shape[0]
        delta = up.reshape(up.shape[0], -1) @ down.reshape(rank, -1) * (tensors[f"{key}.alpha"].item() / rank)
        fused[target] = fused[target] + weight * delta.reshape(fused[target].shape)
    return fused


def module_count(file):
    with safe_open(OUT / file, "pt") as handle:
        return len({key.split(".lora")[0] for key in handle.keys() if ".lora_" in key})


CASES = {
    "kohya_0.8": [("kohya.safetensors", 0.8)],
    "peft_0.7": [("peft.safetensors", 0.7)],
    "stack_kohya_peft": [("kohya.safetensors", 0.5), ("peft.safetensors", -1.2)],
}

IMG2IMG = dict(prompt="an astronaut in a garden, oil painting", strength=0.75, num_inference_steps=8,
               guidance_scale=6.0, seed=42, files=[("kohya.safetensors", 0.8), ("peft.safetensors", 0.6)])


def write_img2img():
    pipe, _ = diffusers_fused(IMG2IMG["files"])
    image = Image.open(FIXTURES / "sdxl" / "input.png").convert("RGB")
    with torch.no_grad():
        result = pipe(prompt=IMG2IMG["prompt"], image=image, strength=IMG2IMG["strength"],
                      num_inference_steps=IMG2IMG["num_inference_steps"], guidance_scale=IMG2IMG["guidance_scale"],
                      generator=torch.Generator("cpu").manual_seed(IMG2IMG["seed"])).images[0]
    result.save(OUT / "img2img_lora.png")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    base = named_weights(load_components())
    targets = write_kohya(OUT / "kohya.safetensors", load_components())
    write_peft(OUT / "peft.safetensors")

    summary = {}
    for case, files in CASES.items():
        _, fused = diffusers_fused(files)
        changed = sorted(key for key in fused if not torch.equal(fused[key], base[key]))
        # Every module a file names changed (diffusers skipped none); with both files, some overlap.
        named = max(module_count(file) for file, _ in files)
        assert len(changed) >= named, f"{case}: {len(changed)} weights changed for {named} modules"
        if files == [("kohya.safetensors", 0.8)]:
            assert changed == sorted(targets.values()), f"{case}: diffusers adapted other modules than the sgm names mean"
            expected = kohya_formula(base, targets, 0.8)
            for key in changed:
                assert torch.allclose(expected[key], fused[key], atol=1e-6), key
        if files == [("peft.safetensors", 0.7)]:
            assert len(changed) == named, f"{case}: {len(changed)} weights changed for {named} modules"
        save_tensors({key: fused[key] for key in changed}, OUT / f"{case}.safetensors")
        summary[case] = dict(files=[dict(path=f, weight=w) for f, w in files], changed=changed)
    write_img2img()
    summary["img2img"] = {key: value for key, value in IMG2IMG.items() if key != "files"}
    summary["img2img"]["files"] = [dict(path=f, weight=w) for f, w in IMG2IMG["files"]]
    write_json(OUT / "cases.json", summary)
    for case in CASES:
        print(case, len(summary[case]["changed"]), "weights changed")


if __name__ == "__main__":
    main()
