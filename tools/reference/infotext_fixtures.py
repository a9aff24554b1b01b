"""Reference fixtures for the A1111 infotext ("parameters") Overpaint writes, and what sd-parsers reads back.

The expected text follows AUTOMATIC1111 stable-diffusion-webui v1.10:

- `create_infotext` in `modules/processing.py`: one `generation_params` dict in a fixed order
  (Steps, Sampler, Schedule type, CFG scale, Seed, Size, Model hash, Model, VAE hash, VAE,
  Denoising strength, Conditional mask weight, Clip skip, then `p.extra_generation_params` in
  the order they were set, then Version); entries whose value is None are left out, each other
  one is written `key: quote(value)` and joined with ", "; the prompt, a
  `Negative prompt:` line when there is one, and the fields are joined with newlines and the
  whole stripped.
- `quote` in `modules/infotext_utils.py`: a value whose text holds `,`, `\\n` or `:` becomes
  `json.dumps(value, ensure_ascii=False)`; any other is written as it is (`str()` of it:
  7.0 stays `7.0`).
- `get_sampler_and_scheduler` in `modules/sd_samplers.py`: a sampler name ending in a schedule
  label (`DPM++ 2M Karras`) is written as the sampler and `Schedule type: Karras`; any other
  gets `Schedule type: Automatic`.
- `Model` is the checkpoint's `name_for_extra` (the file name without its extension,
  `modules/sd_models.py` `CheckpointInfo`); `Refiner` is the refiner's `short_title`
  (`name [shorthash]`) with `Refiner switch at`, set while sampling
  (`modules/sd_samplers_common.py` `apply_refiner`).
- `Size` is `f"{p.width}x{p.height}"`: for "Only masked" (`inpaint_full_res`) `init` crops around
  the mask and resizes the crop to `p.width` x `p.height` (`images.resize_image(2, image,
  self.width, self.height)`) without changing them, so it is the processing size, not the photo's.
- `StableDiffusionProcessingImg2Img.init` (`modules/processing.py`) sets, in this order,
  `Mask blur` (when > 0), `Inpaint area: Only masked` and `Masked area padding` (only masked;
  nothing for whole picture), and `Masked content`: `fill` (inpainting_fill 0), nothing for
  `original` (1, the default), `latent noise` (2), `latent nothing` (3).
  `Conditional mask weight` (1.0 by default) is written for an inpainting (9-channel) model.
- `Lora hashes` (extensions-builtin/Lora/extra_networks_lora.py `activate`) then `TI hashes`
  (`modules/sd_hijack_clip.py`, merged after `setup_conds`): `name: shorthash, ...`.

ControlNet units follow Mikubill/sd-webui-controlnet (commit 56cec5b, 2024-07-25):
`scripts/infotext.py` `Infotext.write_infotext` adds `ControlNet <i>: unit.serialize()` per
enabled unit to `extra_generation_params` from `get_enabled_units`, which runs in the script's
`process` (before `p.init`, so before the inpaint fields) or, with an SDXL refiner, in
`before_process_batch` (after them); `internal_controlnet/args.py` `ControlNetUnit.serialize`
writes the 11 `infotext_fields` (Module, Model, Weight, Resize Mode, Processor Res, Threshold A,
Threshold B, Guidance Start, Guidance End, Pixel Perfect, Control Mode) as `Display Name: str(value)`
(enums by value), or "" when any value holds `,` or `:`. Thresholds are pydantic floats
(100 is written 100.0). Model is the extension's title `name [model_hash]`.

Each case is then read back by sd-parsers 0.6 (`ParserManager().parse`) from a PNG with the
text as its `parameters` chunk (Pillow's PngInfo.add_text) and from a JPEG with it as EXIF
UserComment as A1111 writes it with piexif (`UNICODE\\0` and UTF-16 big-endian), to record
that it is recognised as AUTOMATIC1111 and what it extracts.

Writes Tests/Fixtures/infotext/cases.json:
  {"cases": [{"name", "input": {...}, "expected", "sd_parsers": {"png": {...}, "jpeg": {...}}}]}

Run in a venv outside the repository with sd-parsers==0.6 and pillow (no torch):
  /work/venv-infotext/bin/python tools/reference/infotext_fixtures.py
"""

import io
import json
from pathlib import Path

from PIL import Image, PngImagePlugin
from sd_parsers import ParserManager

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/Fixtures/infotext"
VERSION = "Overpaint 0.0.0-fixture"

# modules/sd_schedulers.py labels a sampler name may end in (those Overpaint's names use).
SCHEDULE_LABELS = ["Karras", "Exponential", "SGM Uniform"]
# internal_controlnet/args.py ControlNetUnit.infotext_fields, by display name.
CONTROLNET_FIELDS = ["Module", "Model", "Weight", "Resize Mode", "Processor Res", "Threshold A", "Threshold B",
                     "Guidance Start", "Guidance End", "Pixel Perfect", "Control Mode"]
# modules/processing.py: inpainting_fill index of each of Overpaint's `fill:` modes.
INPAINTING_FILL = {"fill": 0, "original": 1, "noise": 2, "latent_nothing": 3}


def quote(text):
    """modules/infotext_utils.py quote."""
    if ',' not in str(text) and '\n' not in str(text) and ':' not in str(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def sampler_and_schedule(name):
    """modules/sd_samplers.py get_sampler_and_scheduler, for the names Overpaint writes."""
    for label in SCHEDULE_LABELS:
        if name.endswith(" " + label):
            return name[:-(len(label) + 1)], label
    return name, "Automatic"


def serialize_unit(unit):
    """internal_controlnet/args.py ControlNetUnit.serialize, with Overpaint's constant choices:
    the control map stretched to the generation size (diffusers' control image processing,
    "Just Resize"), its resolution given (Pixel Perfect off), the Balanced control mode."""
    values = {
        "Module": unit["module"],
        "Model": f"{unit['model_name']} [{unit['model_hash']}]",
        "Weight": float(unit["weight"]),
        "Resize Mode": "Just Resize",
        "Processor Res": int(unit["processor_res"]),
        "Threshold A": float(unit["threshold_a"]),
        "Threshold B": float(unit["threshold_b"]),
        "Guidance Start": float(unit["guidance_start"]),
        "Guidance End": float(unit["guidance_end"]),
        "Pixel Perfect": False,
        "Control Mode": "Balanced",
    }
    texts = {field: str(values[field]) for field in CONTROLNET_FIELDS}
    if not all("," not in v and ":" not in v for v in texts.values()):
        return ""
    return ", ".join(f"{field}: {value}" for field, value in texts.items())


def inpaint_params(inpaint):
    """StableDiffusionProcessingImg2Img.init's extra_generation_params, in the order it sets them."""
    params = {}
    if inpaint["mask_blur"] > 0:
        params["Mask blur"] = inpaint["mask_blur"]
    if inpaint["area"] == "masked":
        params["Inpaint area"] = "Only masked"
        params["Masked area padding"] = inpaint["padding"]
    fill = INPAINTING_FILL[inpaint["fill"]]
    if fill == 0:
        params["Masked content"] = "fill"
    elif fill == 2:
        params["Masked content"] = "latent noise"
    elif fill == 3:
        params["Masked content"] = "latent nothing"
    return params


def extra_generation_params(case):
    extra = {}
    units = {f"ControlNet {i}": serialize_unit(unit) for i, unit in enumerate(case.get("controlnets", []))}
    refiner = case.get("refiner")
    if not refiner:
        extra.update(units)  # the extension's process(), before p.init
    if case.get("inpaint"):
        extra.update(inpaint_params(case["inpaint"]))
    if refiner:
        extra.update(units)  # before_process_batch, after p.init
    if case.get("lora_hashes"):
        extra["Lora hashes"] = case["lora_hashes"]
    if case.get("ti_hashes"):
        extra["TI hashes"] = case["ti_hashes"]
    if refiner:
        extra["Refiner"] = f"{refiner['name']} [{refiner['hash']}]" if refiner.get("hash") else refiner["name"]
        extra["Refiner switch at"] = refiner["switch_at"]
    # Overpaint's own field, where an extension's would go: after A1111's, before Version.
    if case.get("precision"):
        extra["Precision"] = case["precision"]
    return extra


def create_infotext(case):
    """modules/processing.py create_infotext for one image."""
    sampler, schedule = sampler_and_schedule(case["sampler"])
    clip_skip = case.get("clip_skip", 1)
    generation_params = {
        "Steps": case["steps"],
        "Sampler": sampler,
        "Schedule type": schedule,
        "CFG scale": float(case["cfg_scale"]),
        "Seed": case["seed"],
        "Size": f"{case['width']}x{case['height']}",
        "Model hash": case.get("model_hash"),
        "Model": case.get("model"),
        "VAE hash": case.get("vae_hash"),
        "VAE": case.get("vae"),
        "Denoising strength": case.get("denoising_strength"),
        "Conditional mask weight": 1.0 if case.get("inpainting_model") else None,
        "Clip skip": None if clip_skip <= 1 else clip_skip,
        **extra_generation_params(case),
        "Version": VERSION,
    }
    generation_params_text = ", ".join(
        [k if k == v else f"{k}: {quote(v)}" for k, v in generation_params.items() if v is not None])
    negative_prompt = case.get("negative_prompt", "")
    negative_prompt_text = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{case['prompt']}{negative_prompt_text}\n{generation_params_text}".strip()


def png_with(text):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 200)).save(buffer, "PNG", pnginfo=info)
    buffer.seek(0)
    return buffer


def jpeg_with(text):
    """modules/images.py save_image_with_geninfo for JPEG: piexif's UserComment, unicode."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode("utf_16_be")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 200)).save(buffer, "JPEG", exif=exif.tobytes())
    buffer.seek(0)
    return buffer


# sd-parsers' UserComment extractor caches the last image by id(); kept open here, no two images
# share an id, so each is read afresh.
OPENED = []


def parsed(buffer):
    image = Image.open(buffer)
    OPENED.append(image)
    info = ParserManager().parse(image)
    if info is None:
        return {"recognised": None}
    sampler = info.samplers[0]
    return {
        "recognised": info.generator.name,
        "prompt": info.full_prompt,
        "negative_prompt": info.full_negative_prompt,
        "sampler": sampler.name,
        "model": sampler.model.name if sampler.model else None,
        "model_hash": sampler.model.hash if sampler.model else None,
        "parameters": {k: str(v) for k, v in sampler.parameters.items()},
        "metadata": {str(k): str(v) for k, v in info.metadata.items()},
    }


def unit(module="canny", model_name="control_v11p_sd15_canny", model_hash="e3b0c442", weight=1.0,
         processor_res=512, threshold_a=100, threshold_b=200, start=0.0, end=1.0):
    return {"module": module, "model_name": model_name, "model_hash": model_hash, "weight": weight,
            "processor_res": processor_res, "threshold_a": threshold_a, "threshold_b": threshold_b,
            "guidance_start": start, "guidance_end": end}


def base(**fields):
    case = {"prompt": "a watercolor painting of a lighthouse", "negative_prompt": "blurry", "steps": 30,
            "sampler": "DDIM", "cfg_scale": 7.5, "seed": 42, "width": 512, "height": 512,
            "model_hash": "1a2b3c4d5e", "model": "sd15", "denoising_strength": 0.75}
    case.update(fields)
    return case


def inpaint(fill, area="whole", mask_blur=4, padding=32):
    return {"mask_blur": mask_blur, "area": area, "padding": padding, "fill": fill}


CASES = {
    "plain_img2img": base(),
    "whole_numbers_and_no_negative": base(negative_prompt="", cfg_scale=7.0, denoising_strength=1.0, seed=0),
    "karras_sampler": base(sampler="DPM++ 2M Karras"),
    "values_needing_quotes": base(model="dream, v2: final", vae="vae: \"ft-mse\", v1.safetensors",
                                  vae_hash="0f1e2d3c4b"),
    "multiline_prompt_and_unicode": base(prompt="  a café\nat night, (neon:1.2)  ", negative_prompt="low quality\nugly",
                                         model="modèle\\v2"),
    "empty_prompt": base(prompt="", negative_prompt=""),
    "inpaint_original": base(inpaint=inpaint("original")),
    "inpaint_fill": base(inpaint=inpaint("fill")),
    "inpaint_latent_noise": base(inpaint=inpaint("noise")),
    "inpaint_latent_nothing": base(inpaint=inpaint("latent_nothing", mask_blur=0)),
    "inpaint_only_masked": base(inpaint=inpaint("fill", area="masked", padding=16), denoising_strength=1.0),
    # "Only masked" resizes the crop to p.width x p.height and leaves them as they were, so Size is
    # that processing size (here a recipe's `width: 768, height: 512`), whatever the photo's.
    "inpaint_only_masked_processing_size": base(inpaint=inpaint("original", area="masked", padding=8), width=768,
                                                height=512, denoising_strength=1.0),
    "inpaint_inpainting_model": base(inpaint=inpaint("original", area="masked"), inpainting_model=True,
                                     denoising_strength=1.0),
    "controlnet_canny": base(controlnets=[unit()]),
    "controlnet_two_units_inpaint": base(inpaint=inpaint("fill"), controlnets=[
        unit(weight=0.8, processor_res=768, start=0.1, end=0.9),
        unit(module="none", model_name="control_v11f1p_sd15_depth", model_hash="cafef00d", threshold_a=0.5,
             threshold_b=0.5)]),
    "controlnet_depth_estimate": base(controlnets=[unit(module="depth_anything", model_name="depth-cn",
                                                        threshold_a=0.5, threshold_b=0.5, processor_res=480)]),
    "controlnet_model_name_with_comma": base(controlnets=[unit(model_name="canny, v2")]),
    "lora_and_ti_hashes": base(prompt="a lighthouse <lora:detail:0.5>, easynegative",
                               lora_hashes="detail: 0123456789ab, ink: ba9876543210",
                               ti_hashes="easynegative: c0ffee123456"),
    "refiner": base(sampler="Euler a", refiner={"name": "sdxl-refiner", "hash": "5e6f7a8b9c", "switch_at": 0.8},
                    width=1024, height=1024, model="sdxl-base"),
    "refiner_with_controlnet_and_inpaint": base(refiner={"name": "refiner", "hash": None, "switch_at": 0.75},
                                                inpaint=inpaint("noise", area="masked"), controlnets=[unit()],
                                                lora_hashes="detail: 0123456789ab"),
    "clip_skip": base(clip_skip=2, sampler="LCM", cfg_scale=1.5, steps=4),
    "bf16_precision": base(precision="bf16"),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, case in CASES.items():
        case = {**case, "version": VERSION}
        text = create_infotext(case)
        cases.append({"name": name, "input": case, "expected": text,
                      "sd_parsers": {"png": parsed(png_with(text)), "jpeg": parsed(jpeg_with(text))}})
    (OUT / "cases.json").write_text(json.dumps({"cases": cases}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for case in cases:
        print(case["name"], case["sd_parsers"]["png"]["recognised"], case["sd_parsers"]["jpeg"]["recognised"])


if __name__ == "__main__":
    main()
