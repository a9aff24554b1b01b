"""Parity fixtures for SDXL textual inversion on Tests/Fixtures/sdxl/sdxl-tiny (sdxl_fixtures.py's
tiny SDXL pipeline: text_encoder hidden 8, text_encoder_2 hidden 16).

Writes Tests/Fixtures/sdxl-textual-inversion/:
  glossy.safetensors      SDXL's embedding layout (A1111, Civitai): `clip_l` [1, 8] for text_encoder and
                          `clip_g` [1, 16] for text_encoder_2, one vector
  watercolor.safetensors  the same layout with three vectors: `clip_l` [3, 8], `clip_g` [3, 16]
  cases.json              each case: the prompt and negative prompt; "hashes": each file's A1111 short
                          hash (first 12 hex digits of the whole file's SHA-256)
  <case>.safetensors      diffusers' StableDiffusionXLPipeline.encode_prompt(prompt, device="cpu",
                          num_images_per_prompt=1, do_classifier_free_guidance=True, negative_prompt)
                          with both files loaded: "prompt_embeds", "negative_prompt_embeds" [1, 77, 24],
                          "pooled_prompt_embeds", "negative_pooled_prompt_embeds" [1, 12]
The reference: sdxl-tiny's components (f32), then for each file, as diffusers documents SDXL embeddings,
  load_textual_inversion(state_dict["clip_l"], token=stem, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer)
  load_textual_inversion(state_dict["clip_g"], token=stem, text_encoder=pipe.text_encoder_2, tokenizer=pipe.tokenizer_2)
(multi-vector: tokens watercolor, watercolor_1, watercolor_2 in both tokenizers, which maybe_convert_prompt
puts in each tokenizer's prompt in place of watercolor).
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/sdxl_textual_inversion_fixtures.py
"""
import hashlib
import shutil

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from fixture_io import FIXTURES, save_tensors, write_json
from safetensors.torch import load_file
from tiny_models import TOKENIZER, load_f32
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

BASE = FIXTURES / "sdxl" / "sdxl-tiny"
OUT = FIXTURES / "sdxl-textual-inversion"
EMBEDDINGS = {"glossy": 1, "watercolor": 3}
CASES = {
    "both": dict(prompt="a glossy astronaut in a garden, watercolor style", negative="blurry"),
    "mid_word_and_case": dict(prompt="an astronaut, Glossy helmet, watercolorstyle", negative="not glossy"),
    "none": dict(prompt="an astronaut in a garden", negative="blurry"),
}


def pipeline():
    components = load_f32(BASE, unet=UNet2DConditionModel, text_encoder=CLIPTextModel,
                          text_encoder_2=CLIPTextModelWithProjection)
    return StableDiffusionXLPipeline(
        vae=AutoencoderKL.from_pretrained(BASE / "vae"), tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER),
        tokenizer_2=CLIPTokenizer.from_pretrained(TOKENIZER, pad_token="!"),
        scheduler=EulerDiscreteScheduler.from_pretrained(BASE / "scheduler"),
        force_zeros_for_empty_prompt=True, add_watermarker=False, **components,
    )


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    generator = torch.Generator().manual_seed(5)
    for stem, vectors in EMBEDDINGS.items():
        save_tensors({"clip_l": torch.randn((vectors, 8), generator=generator),
                      "clip_g": torch.randn((vectors, 16), generator=generator)}, OUT / f"{stem}.safetensors")

    pipe = pipeline()
    for stem in EMBEDDINGS:
        state_dict = load_file(OUT / f"{stem}.safetensors")
        pipe.load_textual_inversion(state_dict["clip_l"], token=stem, text_encoder=pipe.text_encoder,
                                    tokenizer=pipe.tokenizer)
        pipe.load_textual_inversion(state_dict["clip_g"], token=stem, text_encoder=pipe.text_encoder_2,
                                    tokenizer=pipe.tokenizer_2)
    for name, case in CASES.items():
        with torch.no_grad():
            positive, negative, pooled, negative_pooled = pipe.encode_prompt(
                case["prompt"], device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=True,
                negative_prompt=case["negative"])
        save_tensors({"prompt_embeds": positive, "negative_prompt_embeds": negative,
                      "pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": negative_pooled},
                     OUT / f"{name}.safetensors")
    summary = dict(CASES)
    summary["hashes"] = {stem: hashlib.sha256((OUT / f"{stem}.safetensors").read_bytes()).hexdigest()[:12]
                         for stem in EMBEDDINGS}
    write_json(OUT / "cases.json", summary)


if __name__ == "__main__":
    main()
