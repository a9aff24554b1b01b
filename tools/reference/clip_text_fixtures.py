"""Reference fixtures for the Models module's CLIPTextModel parity tests.

Builds two tiny random transformers `CLIPTextModel`s from a fixed seed and writes each as a
diffusers-style `text_encoder` folder (config.json + model.safetensors, float32) under
Tests/Fixtures/clip-text/:

- `quick_gelu/`: hidden 32, 2 layers, 4 heads, intermediate 37, vocab 1000, 77 positions,
  quick_gelu, and SD 1.x's old `eos_token_id: 2` (pooling takes the argmax of the ids).
  Its tensors are saved under the `text_model.` prefix, as the SD 1.x/2.x folders on the hub
  hold them.
- `gelu/`: the same sizes with vocab 128, exact gelu (as SD 2's OpenCLIP-H conversion) and a
  real `eos_token_id: 100` that is *not* the largest id in the prompts (pooling takes the
  first eos). Saved as transformers 5 saves it, without the `text_model.` prefix.

`io.safetensors` holds, per model `<m>`: `<m>.input_ids` ([N, 77] float32, padded as the SD
tokenizers pad: with eos for SD 1.x, with 0 for SD 2), and the float32 outputs
`<m>.last_hidden_state`, `<m>.pooled` and `<m>.clip_skip_<k>`: diffusers' `encode_prompt`
with `clip_skip=k`, i.e. `hidden_states[-(k + 1)]` through `final_layer_norm` (k = 1 for
quick_gelu: the penultimate layer; k = 2 for gelu: the embeddings themselves). Fewer
prompts and skips for the second model keep the fixtures under 400 KB.

Run: /tmp/ref/bin/python tools/reference/clip_text_fixtures.py
"""

import torch
from fixture_io import FIXTURES, write_json
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

OUT = FIXTURES / "clip-text"
LENGTH = 77

MODELS = {
    "quick_gelu": dict(
        config=dict(vocab_size=1000, hidden_act="quick_gelu", bos_token_id=0, eos_token_id=2, pad_token_id=1),
        prefix="text_model.",
        # the prompts' start / end / padding ids, as CLIP's tokenizer writes them: the vocabulary's
        # last two, not the old ids of the config
        tokens=dict(bos=998, eos=999, pad=999),
        words=(5, 12, LENGTH - 2),  # short, longer, and one that fills all 77 positions
        skips=(1,),
    ),
    "gelu": dict(
        config=dict(vocab_size=128, hidden_act="gelu", bos_token_id=101, eos_token_id=100, pad_token_id=0),
        prefix="",
        words=(7, LENGTH - 2),
        skips=(2,),
    ),
}


def prompt_ids(generator: torch.Generator, vocab: int, bos: int, eos: int, pad: int, words: int) -> list[int]:
    """bos, `words` random ids (never eos, nor bos), eos, then padding up to LENGTH."""
    ids = [bos]
    while len(ids) < words + 1:
        token = int(torch.randint(1, vocab, (1,), generator=generator))
        if token not in (bos, eos):
            ids.append(token)
    ids.append(eos)
    return ids + [pad] * (LENGTH - len(ids))


def build(name: str, spec: dict, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=LENGTH,
        layer_norm_eps=1e-5,
        projection_dim=16,
        **spec["config"],
    )
    model = CLIPTextModel(config).eval()
    # Spread the layer norms away from (1, 0) so a missing or misplaced norm shows.
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if "layer_norm" in key:
                value.add_(torch.randn_like(value) * 0.3)

    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    config_dict = config.to_dict()
    config_dict["architectures"] = ["CLIPTextModel"]
    write_json(folder / "config.json", config_dict)
    weights = {spec["prefix"] + k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})

    generator = torch.Generator("cpu").manual_seed(seed + 1)
    # the prompts' special ids: the config's, unless the spec gives the tokenizer's
    tokens = spec.get("tokens", dict(bos=config.bos_token_id, eos=config.eos_token_id, pad=config.pad_token_id))
    rows = [prompt_ids(generator, config.vocab_size, words=words, **tokens) for words in spec["words"]]
    ids = torch.tensor(rows, dtype=torch.long)
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
        hidden = out.hidden_states
        assert len(hidden) == config.num_hidden_layers + 1  # embeddings, then each layer
        skipped = {
            f"{name}.clip_skip_{skip}": model.final_layer_norm(hidden[-(skip + 1)]).contiguous()
            for skip in spec["skips"]
        }
    if config.eos_token_id != 2:
        # The first-eos rule must pick a different position than the argmax rule would.
        assert (ids == config.eos_token_id).int().argmax(-1).tolist() != ids.argmax(-1).tolist()
    return {
        f"{name}.input_ids": ids.to(torch.float32),  # exact for ids < 2**24; read as weights are
        f"{name}.last_hidden_state": out.last_hidden_state.contiguous(),
        f"{name}.pooled": out.pooler_output.contiguous(),
        **skipped,
    }


def main() -> None:
    tensors: dict[str, torch.Tensor] = {}
    for index, (name, spec) in enumerate(MODELS.items()):
        tensors.update(build(name, spec, seed=1234 + 10 * index))
    save_file(tensors, str(OUT / "io.safetensors"))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
