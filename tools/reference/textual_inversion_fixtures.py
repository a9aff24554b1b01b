"""Parity fixtures for textual inversion on the tiny pipeline of Tests/Fixtures/pipelines/sd-tiny.

Writes Tests/Fixtures/textual-inversion/:
  shiny.safetensors      diffusers' learned_embeds layout: one tensor named by its token ("<shiny>"), [16]
  painterly.safetensors  A1111 / kohya layout: `emb_params`, three vectors [3, 16]
  cases.json             each case: the prompt and negative prompt; "hashes": each file's A1111 short
                         hash (first 12 hex digits of the whole file's SHA-256)
  <case>.safetensors     diffusers' encode_prompt(prompt, do_classifier_free_guidance=True,
                         negative_prompt) with both files loaded: "prompt_embeds", "negative_prompt_embeds"
The reference: StableDiffusionPipeline of sd-tiny (f32), then load_textual_inversion(file, token=stem)
for shiny, then painterly (multi-vector: tokens painterly, painterly_1, painterly_2, which
maybe_convert_prompt puts in the prompt in place of painterly).
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/textual_inversion_fixtures.py
"""
import hashlib
import json
import shutil
from pathlib import Path

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

ROOT = Path(__file__).resolve().parents[2]
SD = ROOT / "Tests" / "Fixtures" / "pipelines" / "sd-tiny"
OUT = ROOT / "Tests" / "Fixtures" / "textual-inversion"
CASES = {
    "both": dict(prompt="a shiny astronaut in a garden, painterly style", negative="blurry"),
    "mid_word_and_case": dict(prompt="an astronaut, Shiny helmet, painterlystyle", negative="not shiny"),
    "none": dict(prompt="an astronaut in a garden", negative=""),
}


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    generator = torch.Generator().manual_seed(3)
    save_file({"<shiny>": torch.randn(16, generator=generator)}, OUT / "shiny.safetensors")
    save_file({"emb_params": torch.randn((3, 16), generator=generator)}, OUT / "painterly.safetensors")

    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL.from_pretrained(SD / "vae"),
        text_encoder=CLIPTextModel.from_pretrained(SD / "text_encoder", torch_dtype=torch.float32).eval(),
        tokenizer=CLIPTokenizer.from_pretrained(ROOT / "Tests" / "Fixtures" / "clip-tokenizer"),
        unet=UNet2DConditionModel.from_pretrained(SD / "unet"), scheduler=PNDMScheduler.from_pretrained(SD / "scheduler"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    for stem in ("shiny", "painterly"):
        pipe.load_textual_inversion(OUT / f"{stem}.safetensors", token=stem)
    summary = {}
    for name, case in CASES.items():
        with torch.no_grad():
            positive, negative = pipe.encode_prompt(case["prompt"], "cpu", 1, True, case["negative"])
        save_file({"prompt_embeds": positive.contiguous(), "negative_prompt_embeds": negative.contiguous()},
                  OUT / f"{name}.safetensors")
        summary[name] = case
    summary["hashes"] = {stem: hashlib.sha256((OUT / f"{stem}.safetensors").read_bytes()).hexdigest()[:12]
                         for stem in ("shiny", "painterly")}
    (OUT / "cases.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
