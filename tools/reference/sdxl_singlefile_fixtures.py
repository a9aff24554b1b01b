"""Single-file (A1111 / Civitai SDXL layout) checkpoints of the tiny SDXL pipelines, for
Overpaint's SDXL single-file loading tests.

The diffusers -> LDM renaming reuses singlefile_fixtures.py's UNet and VAE names and adds SDXL's
own, from diffusers' scripts/convert_diffusers_to_original_sdxl.py: `add_embedding` as
`label_emb.0`, CLIP-L under `conditioner.embedders.0.transformer.`, OpenCLIP bigG under
`conditioner.embedders.1.model.` (q, k and v fused into `in_proj`, `text_projection` transposed);
the refiner's bigG is `conditioner.embedders.0.model.`. Each file is then loaded back with
diffusers' own `from_single_file(path, config=folder)`: every tensor of every component must
come back under its diffusers name, unchanged.

Writes Tests/Fixtures/singlefile/:
  sdxl-tiny.safetensors          Tests/Fixtures/sdxl/sdxl-tiny as one file
  sdxl-refiner-tiny.safetensors  Tests/Fixtures/sdxl-refiner/refiner-tiny with sdxl-tiny's VAE
Run: /tmp/ref/bin/python tools/reference/sdxl_singlefile_fixtures.py
"""
import json
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import StableDiffusionXLImg2ImgPipeline
from safetensors.torch import load_file, save_file
from singlefile_fixtures import unet_name, vae_name

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"
BASE = FIXTURES / "sdxl" / "sdxl-tiny"
REFINER = FIXTURES / "sdxl-refiner" / "refiner-tiny"
VOCABULARY = FIXTURES / "clip-tokenizer"
OUT = FIXTURES / "singlefile"

OPENCLIP_LAYER = [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
                  ("self_attn.out_proj", "attn.out_proj")]


def weights(folder):
    return load_file(folder / "diffusion_pytorch_model.safetensors") if (folder / "diffusion_pytorch_model.safetensors").exists() \
        else load_file(folder / "model.safetensors")


def sdxl_unet(folder):
    unet, config = weights(folder), json.loads((folder / "config.json").read_text())
    attention_up = {i for i, t in enumerate(config["up_block_types"]) if t.startswith("CrossAttn")}
    ldm = {}
    for name, tensor in unet.items():
        if name.startswith("add_embedding."):
            new = name.replace("add_embedding.linear_1", "label_emb.0.0").replace("add_embedding.linear_2", "label_emb.0.2")
        else:
            new = unet_name(name, config["layers_per_block"], attention_up)
        ldm["model.diffusion_model." + new] = tensor
    return ldm


def vae(folder):
    tensors, config = weights(folder), json.loads((folder / "config.json").read_text())
    ldm = {}
    for name, tensor in tensors.items():
        new, as_conv = vae_name(name, len(config["up_block_types"]))
        ldm["first_stage_model." + new] = tensor[:, :, None, None] if as_conv else tensor
    return ldm


def clip_l(folder):
    """Under the `text_model.` names SDXL files carry (transformers 5 saves CLIPTextModel without them)."""
    return {"conditioner.embedders.0.transformer." + ("" if name.startswith("text_model.") else "text_model.") + name: tensor
            for name, tensor in weights(folder).items() if not name.endswith("position_ids")}


def open_clip(folder, prefix):
    tensors = weights(folder)
    layers = 1 + max(int(name.split(".")[3]) for name in tensors if name.startswith("text_model.encoder.layers."))
    ldm = {
        "token_embedding.weight": tensors["text_model.embeddings.token_embedding.weight"],
        "positional_embedding": tensors["text_model.embeddings.position_embedding.weight"],
        "ln_final.weight": tensors["text_model.final_layer_norm.weight"],
        "ln_final.bias": tensors["text_model.final_layer_norm.bias"],
        "text_projection": tensors["text_projection.weight"].T.contiguous(),
    }
    for layer in range(layers):
        source, target = f"text_model.encoder.layers.{layer}.", f"transformer.resblocks.{layer}."
        for leaf in ("weight", "bias"):
            ldm[target + f"attn.in_proj_{leaf}"] = torch.cat(
                [tensors[source + f"self_attn.{p}_proj.{leaf}"] for p in "qkv"], dim=0)
            for old, new in OPENCLIP_LAYER:
                ldm[target + f"{new}.{leaf}"] = tensors[source + f"{old}.{leaf}"]
    return {prefix + name: tensor for name, tensor in ldm.items()}


def config_folder(folder, scratch):
    """`folder` with the CLIP vocabulary in its tokenizers, as from_single_file(config=) reads it."""
    copy = Path(scratch) / folder.name
    shutil.copytree(folder, copy)
    for tokenizer in ("tokenizer", "tokenizer_2"):
        if (copy / tokenizer).exists() or tokenizer == "tokenizer" and (copy / "text_encoder").exists():
            (copy / tokenizer).mkdir(exist_ok=True)
            for name in ("vocab.json", "merges.txt"):
                shutil.copy(VOCABULARY / name, copy / tokenizer / name)
            if not (copy / tokenizer / "tokenizer_config.json").exists():
                for name in ("tokenizer_config.json", "special_tokens_map.json"):
                    if (VOCABULARY / name).exists():
                        shutil.copy(VOCABULARY / name, copy / tokenizer / name)
    if not (copy / "vae").exists():
        shutil.copytree(BASE / "vae", copy / "vae")
        index = json.loads((copy / "model_index.json").read_text())
        index["vae"] = ["diffusers", "AutoencoderKL"]
        (copy / "model_index.json").write_text(json.dumps(index))
    return copy


def check_round_trip(path, folder, components):
    """diffusers' from_single_file gives back every tensor of `components` unchanged."""
    with tempfile.TemporaryDirectory() as scratch:
        config = config_folder(folder, scratch)
        pipe = StableDiffusionXLImg2ImgPipeline.from_single_file(str(path), config=str(config), local_files_only=True,
                                                                  torch_dtype=torch.float16)
        for component, source in components.items():
            original = weights(source)
            back = {key.removeprefix("text_model.") if component == "text_encoder" else key: value
                    for key, value in getattr(pipe, component).state_dict().items()}
            missing = set(original) - set(back)
            assert not missing, (component, sorted(missing)[:5])
            for key, tensor in original.items():
                assert torch.equal(tensor, back[key].reshape(tensor.shape)), (component, key)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    base = {**sdxl_unet(BASE / "unet"), **vae(BASE / "vae"), **clip_l(BASE / "text_encoder"),
            **open_clip(BASE / "text_encoder_2", "conditioner.embedders.1.model.")}
    base_path = OUT / "sdxl-tiny.safetensors"
    save_file({k: v.contiguous() for k, v in base.items()}, base_path, metadata={"format": "pt"})
    check_round_trip(base_path, BASE, {"unet": BASE / "unet", "vae": BASE / "vae", "text_encoder": BASE / "text_encoder",
                                       "text_encoder_2": BASE / "text_encoder_2"})
    refiner = {**sdxl_unet(REFINER / "unet"), **vae(BASE / "vae"),
               **open_clip(REFINER / "text_encoder_2", "conditioner.embedders.0.model.")}
    refiner_path = OUT / "sdxl-refiner-tiny.safetensors"
    save_file({k: v.contiguous() for k, v in refiner.items()}, refiner_path, metadata={"format": "pt"})
    check_round_trip(refiner_path, REFINER, {"unet": REFINER / "unet", "text_encoder_2": REFINER / "text_encoder_2"})
    for path in (base_path, refiner_path):
        print(f"wrote {path} ({path.stat().st_size} bytes), diffusers' from_single_file gives every tensor back")


if __name__ == "__main__":
    main()
