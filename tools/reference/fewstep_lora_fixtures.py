"""Parity fixtures for the few-step LoRAs users load (LCM-LoRA, Hyper-SD, SDXL-Lightning): tiny
files in each key layout those published files come in, on the tiny SD 1.x pipeline
(Tests/Fixtures/pipelines/sd-tiny) and the tiny SDXL one (Tests/Fixtures/sdxl/sdxl-tiny), with the
weights diffusers fuses from them as the reference.

The layouts:
  lcm       latent-consistency/lcm-lora-sdv1-5 and lcm-lora-sdxl (pytorch_lora_weights.safetensors),
            as diffusers' examples/consistency_distillation/train_lcm_distill_lora_sd(xl)_wds.py
            write them: PEFT adapters renamed kohya-style with the diffusers module names
            (`lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight`, `.lora_up.weight`),
            an `.alpha` per module holding the LoraConfig's lora_alpha (the published files: rank
            64, so alpha / rank is not 1), f16, UNet only, on the script's target modules:
            to_q, to_k, to_v, to_out.0, proj_in, proj_out, ff.net.0.proj, ff.net.2, conv1, conv2,
            conv_shortcut, downsamplers.0.conv, upsamplers.0.conv, time_emb_proj.
  diffusers diffusers' pre-PEFT layout (0.21 to 0.24, `LoRACompatibleLinear` / `Conv`):
            `unet.<module>.lora.down.weight` / `.lora.up.weight` and the text encoders'
            `text_encoder.<module>.lora_linear_layer.down.weight` / `.up.weight`; no alpha
            (alpha = rank).
Rank 4 with alpha 1 (lcm) so a wrong alpha / rank shows.

Writes Tests/Fixtures/fewstep-lora/:
  sd_<layout>.safetensors, sdxl_<layout>.safetensors   the files
  <case>.safetensors   every weight a case changes, fused by diffusers, f32, "<component>.<key>"
  cases.json           each case: base model ("sd" or "sdxl"), files with weights, changed keys;
                       "img2img": the parameters of img2img_lcm.png
  img2img_lcm.png      StableDiffusionImg2ImgPipeline on sd-tiny with sd_lcm.safetensors fused
                       at 1.0 and LCMScheduler.from_config(the pipeline's scheduler config), from
                       Tests/Fixtures/pipelines/input.png (IMG2IMG below)

Each case is fused by diffusers 0.42.1 itself: load_lora_weights(file), fuse_lora(lora_scale=w),
unload_lora_weights(); the script checks that exactly the modules each file names changed (so
diffusers skipped none) and that each change is w * up @ down * alpha / rank. Deterministic.

Run after lora_fixtures.py and sdxl_lora_fixtures.py (whose helpers it imports):
  nice /tmp/ref/bin/python tools/reference/fewstep_lora_fixtures.py
"""
import shutil

import torch
from diffusers import LCMScheduler, StableDiffusionImg2ImgPipeline
from fixture_io import FIXTURES, save_output, save_tensors, write_json
import lora_fixtures as sd
import sdxl_lora_fixtures as sdxl
from PIL import Image
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from tiny_models import PIPELINES

OUT = FIXTURES / "fewstep-lora"
RANK, ALPHA = 4, 1.0
# diffusers' train_lcm_distill_lora_sd_wds.py / _sdxl_wds.py lora_target_modules.
LCM_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2",
               "conv1", "conv2", "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
FAMILIES = {"sd": sd, "sdxl": sdxl}


def peft_factors(model, targets, seed, alpha):
    """{module name: (down, up)} of a random PEFT LoRA (rank RANK) on `model`'s `targets`, as
    get_peft_model_state_dict gives them."""
    torch.manual_seed(seed)
    model.add_adapter(LoraConfig(r=RANK, lora_alpha=alpha, init_lora_weights=False, target_modules=targets))
    factors = {}
    for key, value in get_peft_model_state_dict(model).items():
        module, role = key.rsplit(".lora_", 1)
        factors.setdefault(module, {})[role.split(".")[0]] = value.detach().clone()
    return {module: (parts["A"], parts["B"]) for module, parts in sorted(factors.items())}


def write_lcm(path, family, seed):
    """The LCM-LoRA layout. Returns {weight key: delta}."""
    unet = FAMILIES[family].load_components()["unet"]
    tensors, deltas = {}, {}
    for module, (down, up) in peft_factors(unet, LCM_TARGETS, seed, ALPHA).items():
        name = "lora_unet_" + module.replace(".", "_")
        down, up = down.half(), up.half()
        tensors[f"{name}.lora_down.weight"], tensors[f"{name}.lora_up.weight"] = down, up
        tensors[f"{name}.alpha"] = torch.tensor(ALPHA).half()
        deltas[f"unet.{module}.weight"] = delta(down, up, ALPHA)
    save_tensors(tensors, path)
    return deltas


def write_diffusers(path, family, seed):
    """diffusers' pre-PEFT layout: the UNet on LCM's targets, each text encoder on attention; no
    alpha, so alpha = rank. Returns {weight key: delta}."""
    tensors, deltas = {}, {}
    for index, (component, model) in enumerate(sorted(FAMILIES[family].load_components().items())):
        targets, suffix = (LCM_TARGETS, "lora") if component == "unet" else (TEXT_TARGETS, "lora_linear_layer")
        for module, (down, up) in peft_factors(model, targets, seed + index, RANK).items():
            tensors[f"{component}.{module}.{suffix}.down.weight"] = down
            tensors[f"{component}.{module}.{suffix}.up.weight"] = up
            deltas[f"{component}.{module}.weight"] = delta(down, up, RANK)
    save_tensors(tensors, path)
    return deltas


def delta(down, up, alpha):
    """up @ down * alpha / rank as an [out, in * kernel] matrix, in f32."""
    down, up = down.float(), up.float()
    return up.reshape(up.shape[0], -1) @ down.reshape(down.shape[0], -1) * (alpha / down.shape[0])


CASES = {
    "sd_lcm_1.0": ("sd", [("sd_lcm.safetensors", 1.0)]),
    "sd_diffusers_0.7": ("sd", [("sd_diffusers.safetensors", 0.7)]),
    "sdxl_lcm_1.0": ("sdxl", [("sdxl_lcm.safetensors", 1.0)]),
    "sdxl_diffusers_0.9": ("sdxl", [("sdxl_diffusers.safetensors", 0.9)]),
    "sdxl_stack_lcm_diffusers": ("sdxl", [("sdxl_lcm.safetensors", 1.0), ("sdxl_diffusers.safetensors", -0.5)]),
}

IMG2IMG = dict(prompt="a watercolor painting of an astronaut", strength=0.5, num_inference_steps=8,
               guidance_scale=1.0, seed=42, scheduler="lcm", files=[("sd_lcm.safetensors", 1.0)])


def fused(family, files):
    module = FAMILIES[family]
    components = module.load_components()
    pipe = module.pipeline(components)
    sd.fuse_with_diffusers(pipe, OUT, files)
    return pipe, sd.named_weights(components)


def check(case, files, deltas, base, weights, changed):
    """diffusers changed exactly the weights the files' modules name, each by the sum of
    w * up @ down * alpha / rank over the files."""
    expected = {}
    for file, weight in files:
        for key, update in deltas[file].items():
            expected[key] = expected.get(key, 0) + weight * update
    assert changed == sorted(expected), f"{case}: diffusers changed {len(changed)} weights, the files name {len(expected)}"
    for key in changed:
        difference = (weights[key] - base[key]).reshape(weights[key].shape[0], -1)
        assert torch.allclose(difference, expected[key], atol=1e-5), f"{case}: {key}"


def write_img2img():
    pipe, _ = fused("sd", IMG2IMG["files"])
    img2img = StableDiffusionImg2ImgPipeline(**pipe.components)
    img2img.scheduler = LCMScheduler.from_config(img2img.scheduler.config)
    image = Image.open(PIPELINES / "input.png").convert("RGB")
    with torch.no_grad():
        result = img2img(prompt=IMG2IMG["prompt"], image=image, strength=IMG2IMG["strength"],
                         num_inference_steps=IMG2IMG["num_inference_steps"], guidance_scale=IMG2IMG["guidance_scale"],
                         generator=torch.Generator("cpu").manual_seed(IMG2IMG["seed"])).images[0]
    save_output(result, OUT / "img2img_lcm.png")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    deltas = {
        "sd_lcm.safetensors": write_lcm(OUT / "sd_lcm.safetensors", "sd", 61),
        "sd_diffusers.safetensors": write_diffusers(OUT / "sd_diffusers.safetensors", "sd", 63),
        "sdxl_lcm.safetensors": write_lcm(OUT / "sdxl_lcm.safetensors", "sdxl", 64),
        "sdxl_diffusers.safetensors": write_diffusers(OUT / "sdxl_diffusers.safetensors", "sdxl", 65),
    }

    bases = {family: sd.named_weights(module.load_components()) for family, module in FAMILIES.items()}
    summary = {}
    for case, (family, files) in CASES.items():
        _, weights = fused(family, files)
        base = bases[family]
        changed = sorted(key for key in weights if not torch.equal(weights[key], base[key]))
        check(case, files, deltas, base, weights, changed)
        save_tensors({key: weights[key] for key in changed}, OUT / f"{case}.safetensors")
        summary[case] = dict(model=family, files=[dict(path=f, weight=w) for f, w in files], changed=changed)
        print(case, len(changed), "weights changed")
    write_img2img()
    summary["img2img"] = {key: value for key, value in IMG2IMG.items() if key != "files"}
    summary["img2img"]["files"] = [dict(path=f, weight=w) for f, w in IMG2IMG["files"]]
    write_json(OUT / "cases.json", summary)


if __name__ == "__main__":
    main()
