"""Parity fixtures for the Adapters module: LoRA files in the layouts users have, and the weights
diffusers fuses from them into the tiny pipeline of Tests/Fixtures/pipelines/sd-tiny.

Writes Tests/Fixtures/lora/:
  kohya.safetensors   kohya / A1111 layout (lora_unet_*, lora_te_*; .lora_down / .lora_up / .alpha)
                      on the UNet's attention, feed-forward and time-embedding linears and the text
                      encoder's attention and MLP linears; rank 4, alpha 2
  locon.safetensors   LoCon: the same layout on 3x3 convolutions (the first block's resnets and
                      downsampler) and 1x1 ones (proj_in / proj_out, conv_shortcut); rank 2, no alpha (= rank)
  peft.safetensors    diffusers / PEFT layout (unet.*.lora_A / lora_B, text_encoder.*), written by
                      diffusers' save_lora_weights with its adapter metadata (r 4, lora_alpha 8)
  loha.safetensors    LyCORIS LoHa (hada_w1_a/b, hada_w2_a/b, alpha) on linears and a 3x3 conv
  lokr.safetensors    LyCORIS LoKr: whole w1 with a low-rank w2 (linears, a conv), and whole w1 and w2
  dora.safetensors    kohya LoRA with dora_scale, per input channel ([1, in, ...], LyCORIS' default)
                      on some modules and per output row ([out, 1, ...]) on others
  <case>.safetensors  for each case in cases.json, every weight the case changes, fused, as f32,
                      named "<component>.<key>" (component: unet or text_encoder)
  cases.json          each case: the files in order with their weights, the changed keys, and the
                      reference that fused them ("diffusers" or "formulas"); "hashes": each file's
                      A1111 LoRA short hash (kohya's addnet hash: SHA-256 of the bytes after the
                      safetensors header, first 12 hex digits)
  img2img_lora.png    StableDiffusionImg2ImgPipeline on sd-tiny after kohya.safetensors fused at 0.8
                      and locon.safetensors at 1.0 (IMG2IMG below), from Tests/Fixtures/pipelines/input.png

The kohya, LoCon and PEFT cases are fused by diffusers 0.42.1 itself: a StableDiffusionPipeline of
sd-tiny (f32), then, per file, load_lora_weights(file), fuse_lora(lora_scale=weight) and
unload_lora_weights() (the fused weights stay), so several files stack in order. The script checks
that diffusers changed exactly the modules each file names, so nothing is silently skipped.

diffusers cannot load LoHa, LoKr or DoRA files; those cases are fused here from the published
formulas, in torch:
  LoHa: LyCORIS lycoris/functional/loha.py: dW = (w1a @ w1b) * (w2a @ w2b) * alpha / rank,
        rank = w1b.shape[0].
  LoKr: LyCORIS lycoris/functional/lokr.py diff_weight: dW = kron(w1, w2) * alpha / rank, a factor
        given as _a/_b being their product; rank = w1a.shape[1] or else w2a.shape[1]; scale 1 when
        both factors are whole.
  DoRA: Liu et al. 2024, "DoRA: Weight-Decomposed Low-Rank Adaptation", eq. (5):
        W' = m * (W + dW) / ||W + dW||, the norm per input channel when m is [1, in, ...] (LyCORIS'
        dora_scale) and per output row when it is [out, 1, ...] (PEFT's magnitude); the user's weight
        scales dW, as PEFT's DoRA merge does. (ComfyUI and LyCORIS instead interpolate the
        decomposed weight by it; all agree at weight 1.)
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/lora_fixtures.py
"""

import hashlib
import shutil

import torch
from diffusers import (AutoencoderKL, PNDMScheduler, StableDiffusionImg2ImgPipeline, StableDiffusionPipeline,
                       UNet2DConditionModel)
from fixture_io import FIXTURES, save_tensors, write_json
from PIL import Image
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file
from tiny_models import PIPELINES, SD_TINY, TOKENIZER, load_f32
import transformers.integrations.peft as transformers_peft
from transformers import CLIPTextModel, CLIPTokenizer

# transformers 5.24 asks for peft >= 0.22, which is not published; 0.21.2 (the newest) does what
# its text-encoder adapter calls need, so the version gate alone is lifted.
transformers_peft.MIN_PEFT_VERSION = "0.21.2"

OUT = FIXTURES / "lora"


def load_components():
    return load_f32(SD_TINY, unet=UNet2DConditionModel, text_encoder=CLIPTextModel)


def pipeline(components):
    return StableDiffusionPipeline(
        vae=AutoencoderKL.from_pretrained(SD_TINY / "vae"), tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER),
        scheduler=PNDMScheduler.from_pretrained(SD_TINY / "scheduler"), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False, **components,
    )


def modules(model, wanted):
    """(name, module) of the model's Linear / Conv2d modules whose name `wanted` accepts, sorted."""
    return sorted((name, module) for name, module in model.named_modules()
                  if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and wanted(name, module))


def is_conv(module, kernel):
    return isinstance(module, torch.nn.Conv2d) and module.kernel_size == (kernel, kernel)


UNET_LINEARS = lambda name, m: isinstance(m, torch.nn.Linear) and any(
    part in name for part in ("attn1.to_", "attn2.to_", "ff.net", "time_emb_proj"))
TEXT_LINEARS = lambda name, m: isinstance(m, torch.nn.Linear) and ("self_attn" in name or "mlp" in name)
UNET_CONVS = lambda name, m: (is_conv(m, 3) and name.startswith("down_blocks.0.")) or (
    is_conv(m, 1) and ("proj_in" in name or "proj_out" in name or "conv_shortcut" in name))


def kohya_name(component, name):
    # sd-scripts names text encoder modules from transformers 4's CLIPTextModel, which kept them under
    # `text_model.`; transformers 5 dropped that level, so the files users have still carry it.
    name = name if component == "unet" else "text_model." + name
    return ("lora_unet_" if component == "unet" else "lora_te_") + name.replace(".", "_")


def fan(module):
    """(out, in, kernel shape) of a Linear or Conv2d weight."""
    weight = module.weight
    return weight.shape[0], weight.shape[1], tuple(weight.shape[2:])


def lora_factors(generator, module, rank):
    out, inputs, kernel = fan(module)
    down = torch.randn((rank, inputs, *kernel), generator=generator) * 0.3
    up = torch.randn((out, rank, *([1] * len(kernel))), generator=generator) * 0.3
    return down, up


def write_kohya(path, components, selections, rank, alpha, seed, dora=None):
    """A kohya-layout file over the selected modules; with `dora`, a dora_scale per module laid out
    per input channel (even module index) or per output row (odd)."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for component, wanted in selections:
        for index, (name, module) in enumerate(modules(components[component], wanted)):
            key = kohya_name(component, name)
            tensors[f"{key}.lora_down.weight"], tensors[f"{key}.lora_up.weight"] = lora_factors(generator, module, rank)
            if alpha is not None:
                tensors[f"{key}.alpha"] = torch.tensor(float(alpha))
            if dora:
                weight = module.weight.detach()
                per_input = index % 2 == 0
                norms = weight.transpose(0, 1).reshape(weight.shape[1], -1).norm(dim=1) if per_input \
                    else weight.reshape(weight.shape[0], -1).norm(dim=1)
                scale = norms * (1 + 0.2 * torch.randn(norms.shape, generator=generator))
                shape = [1, weight.shape[1]] if per_input else [weight.shape[0], 1]
                tensors[f"{key}.dora_scale"] = scale.reshape(shape + [1] * (weight.dim() - 2))
    save_tensors(tensors, path)


def write_peft(path):
    """A PEFT-layout file written by diffusers' own save_lora_weights from PEFT-adapted models."""
    components = load_components()
    torch.manual_seed(21)
    unet_config = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                             target_modules=["to_q", "to_k", "to_v", "to_out.0", "proj_in"])
    text_config = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                             target_modules=["q_proj", "k_proj", "v_proj", "out_proj"])
    components["unet"].add_adapter(unet_config)
    components["text_encoder"].add_adapter(text_config)
    folder = OUT / "peft-save"
    StableDiffusionPipeline.save_lora_weights(
        folder, unet_lora_layers=get_peft_model_state_dict(components["unet"]),
        text_encoder_lora_layers=get_peft_model_state_dict(components["text_encoder"]),
        unet_lora_adapter_metadata=unet_config.to_dict(), text_encoder_lora_adapter_metadata=text_config.to_dict(),
    )
    shutil.move(folder / "pytorch_lora_weights.safetensors", path)
    shutil.rmtree(folder)


def named_weights(components):
    """Every weight of `components` ({component: model}), named "<component>.<key>"."""
    return {f"{component}.{key}": value.detach().clone()
            for component, model in components.items() for key, value in model.state_dict().items()}


def fuse_with_diffusers(pipe, folder, files):
    """diffusers' own fusing of `files` ([(file name in folder, weight)]) into `pipe`'s models: per
    file load_lora_weights, fuse_lora(lora_scale=weight), unload_lora_weights (the fused weights
    stay), so the files stack in order."""
    for name, weight in files:
        pipe.load_lora_weights(folder / name)
        pipe.fuse_lora(lora_scale=weight)
        pipe.unload_lora_weights()


def diffusers_fused(files):
    components = load_components()
    fuse_with_diffusers(pipeline(components), OUT, files)
    return named_weights(components)


# --- The published formulas, for what diffusers cannot load -------------------------------------

def matrix(tensor):
    return tensor.reshape(tensor.shape[0], -1)


def formula_delta(parts, shape):
    """dW of one module (scaled by alpha / rank) as `shape`."""
    alpha = parts.get("alpha")
    if "lora_down.weight" in parts:
        down, up = matrix(parts["lora_down.weight"]), matrix(parts["lora_up.weight"])
        rank = down.shape[0]
        delta = up @ down * ((alpha.item() if alpha is not None else rank) / rank)
    elif "hada_w1_a" in parts:
        rank = parts["hada_w1_b"].shape[0]
        delta = (matrix(parts["hada_w1_a"]) @ matrix(parts["hada_w1_b"])) * (
            matrix(parts["hada_w2_a"]) @ matrix(parts["hada_w2_b"])) * (alpha.item() / rank)
    else:
        def factor(name):
            return matrix(parts[name]) if name in parts else matrix(parts[name + "_a"]) @ matrix(parts[name + "_b"])
        rank = parts["lokr_w1_a"].shape[1] if "lokr_w1_a" in parts else \
            parts["lokr_w2_a"].shape[1] if "lokr_w2_a" in parts else None
        scale = alpha.item() / rank if rank is not None else 1.0
        delta = torch.kron(factor("lokr_w1"), factor("lokr_w2")) * scale
    return delta.reshape(shape)


def dora(weight, delta, magnitude):
    merged = weight + delta
    if magnitude.shape[0] == weight.shape[0] and magnitude.numel() == weight.shape[0]:
        norm = merged.reshape(merged.shape[0], -1).norm(dim=1).reshape(magnitude.shape)
    else:
        norm = merged.transpose(0, 1).reshape(merged.shape[1], -1).norm(dim=1).reshape(magnitude.shape)
    return magnitude * merged / norm


def formula_fused(files):
    components = load_components()
    state = named_weights(components)
    names = {kohya_name(component, name): f"{component}.{name}.weight"
             for component, model in components.items() for name, _ in model.named_modules() if name}
    for file, weight in files:
        tensors = load_file(OUT / file)
        grouped = {}
        for key, value in tensors.items():
            module, role = key.split(".", 1)
            grouped.setdefault(module, {})[role] = value.float()
        for module, parts in grouped.items():
            target = names[module]
            delta = formula_delta(parts, state[target].shape) * weight
            if "dora_scale" in parts:
                state[target] = dora(state[target], delta, parts["dora_scale"])
            else:
                state[target] = state[target] + delta
    return state


def write_loha(path, components):
    generator = torch.Generator().manual_seed(31)
    tensors = {}
    selections = [("unet", lambda n, m: isinstance(m, torch.nn.Linear) and "attn2.to_" in n),
                  ("unet", lambda n, m: is_conv(m, 3) and "down_blocks.0.resnets.0.conv1" in n),
                  ("text_encoder", lambda n, m: isinstance(m, torch.nn.Linear) and "mlp" in n)]
    rank = 2
    for component, wanted in selections:
        for name, module in modules(components[component], wanted):
            out, inputs, kernel = fan(module)
            columns = inputs * int(torch.tensor(kernel).prod().item() if kernel else 1)
            key = kohya_name(component, name)
            for part in ("w1", "w2"):
                tensors[f"{key}.hada_{part}_a"] = torch.randn((out, rank), generator=generator) * 0.5
                tensors[f"{key}.hada_{part}_b"] = torch.randn((rank, columns), generator=generator) * 0.5
            tensors[f"{key}.alpha"] = torch.tensor(1.0)
    save_tensors(tensors, path)


def write_lokr(path, components):
    generator = torch.Generator().manual_seed(41)
    tensors = {}
    targets = [("unet", name, module) for name, module in modules(
        components["unet"], lambda n, m: (isinstance(m, torch.nn.Linear) and "attn1.to_" in n)
        or (is_conv(m, 3) and "up_blocks.1.resnets.0.conv2" in n))]
    targets += [("text_encoder", name, module) for name, module in modules(
        components["text_encoder"], lambda n, m: isinstance(m, torch.nn.Linear) and "q_proj" in n)]
    for index, (component, name, module) in enumerate(targets):
        out, inputs, kernel = fan(module)
        key = kohya_name(component, name)
        a, c = 4, 4  # out = a * b, in = c * d
        b, d = out // a, inputs // c
        columns = d * int(torch.tensor(kernel).prod().item() if kernel else 1)
        tensors[f"{key}.lokr_w1"] = torch.randn((a, c), generator=generator) * 0.5
        if index % 3 == 2:
            tensors[f"{key}.lokr_w2"] = torch.randn((b, d, *kernel), generator=generator) * 0.2
        else:
            tensors[f"{key}.lokr_w2_a"] = torch.randn((b, 2), generator=generator) * 0.5
            tensors[f"{key}.lokr_w2_b"] = torch.randn((2, columns), generator=generator) * 0.5
        tensors[f"{key}.alpha"] = torch.tensor(3.0)
    save_tensors(tensors, path)


def module_id(key):
    """The module a kohya or PEFT key adapts, the same for both layouts."""
    module = key.split(".lora_")[0]
    for prefix, component in (("lora_unet_", "unet"), ("lora_te_", "text_encoder"), ("unet.", "unet"),
                              ("text_encoder.", "text_encoder")):
        if module.startswith(prefix):
            return component + ":" + module[len(prefix):].replace(".", "_").removeprefix("text_model_")
    raise ValueError(key)


CASES = {
    "kohya_0.8": dict(files=[("kohya.safetensors", 0.8)], reference="diffusers"),
    "locon_1.0": dict(files=[("locon.safetensors", 1.0)], reference="diffusers"),
    "peft_0.7": dict(files=[("peft.safetensors", 0.7)], reference="diffusers"),
    "stack_kohya_peft_locon": dict(files=[("kohya.safetensors", 0.5), ("peft.safetensors", 1.2),
                                          ("locon.safetensors", -0.6)], reference="diffusers"),
    "loha_0.9": dict(files=[("loha.safetensors", 0.9)], reference="formulas"),
    "lokr_1.1": dict(files=[("lokr.safetensors", 1.1)], reference="formulas"),
    "dora_1.0": dict(files=[("dora.safetensors", 1.0)], reference="formulas"),
    "dora_0.6": dict(files=[("dora.safetensors", 0.6)], reference="formulas"),
}


IMG2IMG = dict(prompt="an astronaut in a garden, oil painting", strength=0.75, num_inference_steps=8,
               guidance_scale=7.5, seed=42, files=[("kohya.safetensors", 0.8), ("locon.safetensors", 1.0)])


def write_img2img():
    pipe = pipeline(load_components())
    fuse_with_diffusers(pipe, OUT, IMG2IMG["files"])
    img2img = StableDiffusionImg2ImgPipeline(**pipe.components)
    image = Image.open(PIPELINES / "input.png").convert("RGB")
    result = img2img(prompt=IMG2IMG["prompt"], image=image, strength=IMG2IMG["strength"],
                     num_inference_steps=IMG2IMG["num_inference_steps"], guidance_scale=IMG2IMG["guidance_scale"],
                     generator=torch.Generator("cpu").manual_seed(IMG2IMG["seed"])).images[0]
    result.save(OUT / "img2img_lora.png")


def addnet_hash(path):
    data = path.read_bytes()
    header = int.from_bytes(data[:8], "little")
    return hashlib.sha256(data[8 + header:]).hexdigest()[:12]


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    components = load_components()
    write_kohya(OUT / "kohya.safetensors", components, [("unet", UNET_LINEARS), ("text_encoder", TEXT_LINEARS)],
                rank=4, alpha=2, seed=11)
    write_kohya(OUT / "locon.safetensors", components, [("unet", UNET_CONVS)], rank=2, alpha=None, seed=12)
    write_peft(OUT / "peft.safetensors")
    write_loha(OUT / "loha.safetensors", components)
    write_lokr(OUT / "lokr.safetensors", components)
    write_kohya(OUT / "dora.safetensors", components,
                [("unet", lambda n, m: isinstance(m, torch.nn.Linear) and "attn1.to_" in n),
                 ("unet", lambda n, m: is_conv(m, 3) and "mid_block.resnets" in n),
                 ("text_encoder", lambda n, m: isinstance(m, torch.nn.Linear) and "out_proj" in n)],
                rank=2, alpha=1, seed=13, dora=True)

    base = named_weights(load_components())
    summary = {}
    for case, spec in CASES.items():
        fused = (diffusers_fused if spec["reference"] == "diffusers" else formula_fused)(spec["files"])
        changed = sorted(key for key in fused if not torch.equal(fused[key], base[key]))
        if spec["reference"] == "diffusers":
            # Every module a file names must have changed: diffusers skipped none of them.
            named = set()
            for file, _ in spec["files"]:
                with safe_open(OUT / file, "pt") as handle:
                    named |= {module_id(key) for key in handle.keys() if ".lora_" in key}
            assert len(changed) == len(named), f"{case}: {len(changed)} weights changed for {len(named)} modules"
            # And the kohya / LoCon ones by exactly the formula.
            check = formula_fused([f for f in spec["files"] if f[0] != "peft.safetensors"])
            if all(f[0] != "peft.safetensors" for f in spec["files"]):
                for key in changed:
                    assert torch.allclose(check[key], fused[key], atol=1e-6), key
        save_tensors({key: fused[key] for key in changed}, OUT / f"{case}.safetensors")
        summary[case] = dict(files=[dict(path=f, weight=w) for f, w in spec["files"]],
                             reference=spec["reference"], changed=changed)
    write_img2img()
    summary["hashes"] = {path.name: addnet_hash(path) for path in sorted(OUT.glob("*.safetensors"))
                         if path.stem not in CASES}
    write_json(OUT / "cases.json", summary)


if __name__ == "__main__":
    main()
