"""Reference fixtures for prompts longer than CLIP's 77 tokens, chunked as AUTOMATIC1111 does.

A1111 (modules/sd_hijack_clip.py, `tokenize_line` and `process_tokens`) splits the prompt's
tokens (no start/end tokens) into chunks of 75: when a chunk is full and the next token is
not a comma, and a comma lies within the chunk's last 20 tokens (`comma_padding_backtrack`,
default 20), the tokens after that comma move to the next chunk. Each chunk is padded to 75
with the padding token (the end token for SD 1.x), wrapped in start/end tokens (77), encoded
by the text model on its own, and the chunks' last hidden states are concatenated along the
sequence. When the prompt and the negative prompt have different chunk counts, the shorter
is extended with the embeddings of the empty prompt (A1111's `pad_cond` with
`cond_stage_model_empty_prompt`). Prompts of at most 75 tokens are one chunk: the ordinary
`tokenizer(..., padding="max_length", truncation=True)` input. Emphasis syntax, BREAK and
textual-inversion embeddings are not part of this (Overpaint takes prompt text literally).

Uses transformers' CLIPTokenizer over the real vocabulary (Tests/Fixtures/clip-tokenizer) and
the tiny CLIP text model of Tests/Fixtures/pipelines/sd-tiny/text_encoder (f32).

Writes Tests/Fixtures/pipelines/prompt_chunks.json:
  {"prompts": [{"name", "text", "chunks": [[77 ids], ...]}],
   "pairs": [{"name", "prompt", "negative", "chunks": n}]}
and prompt_chunks.safetensors (float32): `<name>` [1, n * 77, 16], the prompt's embeddings;
`<pair>.cond` and `<pair>.uncond`, each [1, n * 77, 16] after the shorter was extended.

Run: /tmp/ref/bin/python tools/reference/prompt_chunk_fixtures.py
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"
OUT = FIXTURES / "pipelines" / "prompt_chunks.json"
TENSORS = FIXTURES / "pipelines" / "prompt_chunks.safetensors"

CHUNK = 75
BACKTRACK = 20

# Lengths chosen to cover: a comma backtrack, a full chunk with no comma near its end, three
# chunks, exactly 75 tokens (not chunked), and one token over.
SUBJECT = "a photo of an astronaut riding a horse on the moon"
PROMPTS = {
    "commas": ", ".join(["a very detailed oil painting of a quiet garden at dawn"] * 8),
    "no_commas": " ".join(["red flowers in a green field under a blue sky"] * 10),
    "three_chunks": ", ".join([SUBJECT] * 16),
    "exactly_75": " ".join(["cat"] * 75),
    "just_over": " ".join(["cat"] * 76),
}
PAIRS = [
    ("long_positive", "three_chunks", "blurry, low quality"),
    ("long_negative", "short", "commas"),
]


def a1111_chunks(tokenizer, text):
    """A1111's tokenize_line without emphasis: lists of 77 ids."""
    tokens = tokenizer(text, truncation=False, add_special_tokens=False)["input_ids"]
    comma = tokenizer.get_vocab()[",</w>"]
    start, end, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    chunks, chunk, last_comma = [], [], -1

    def close(current):
        return [start] + current + [pad] * (CHUNK - len(current)) + [end]

    for token in tokens:
        if token == comma:
            last_comma = len(chunk)
        elif len(chunk) == CHUNK and last_comma != -1 and len(chunk) - last_comma <= BACKTRACK:
            moved = chunk[last_comma + 1:]
            chunks.append(close(chunk[:last_comma + 1]))
            chunk, last_comma = moved, -1
        if len(chunk) == CHUNK:
            chunks.append(close(chunk))
            chunk, last_comma = [], -1
        chunk.append(token)
    if chunk or not chunks:
        chunks.append(close(chunk))
    return chunks


def embed(model, chunks):
    with torch.no_grad():
        states = [model(torch.tensor([c]))[0] for c in chunks]
    return torch.cat(states, dim=1)


def main():
    tokenizer = CLIPTokenizer.from_pretrained(FIXTURES / "clip-tokenizer")
    model = CLIPTextModel.from_pretrained(FIXTURES / "pipelines" / "sd-tiny" / "text_encoder",
                                          torch_dtype=torch.float32).eval()
    texts = dict(PROMPTS, short="an astronaut in a garden, oil painting")
    prompts, tensors = [], {}
    for name, text in PROMPTS.items():
        chunks = a1111_chunks(tokenizer, text)
        if len(chunks) == 1:
            ordinary = tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids
            assert chunks[0] == ordinary, name
        prompts.append(dict(name=name, text=text, chunks=chunks))
        tensors[name] = embed(model, chunks).contiguous()
    empty = embed(model, a1111_chunks(tokenizer, ""))
    pairs = []
    for name, positive, negative in PAIRS:
        cond = embed(model, a1111_chunks(tokenizer, texts[positive]))
        uncond = embed(model, a1111_chunks(tokenizer, texts.get(negative, negative)))
        count = max(cond.shape[1], uncond.shape[1]) // 77
        cond = torch.cat([cond] + [empty] * (count - cond.shape[1] // 77), dim=1)
        uncond = torch.cat([uncond] + [empty] * (count - uncond.shape[1] // 77), dim=1)
        pairs.append(dict(name=name, prompt=texts[positive], negative=texts.get(negative, negative), chunks=count))
        tensors[name + ".cond"], tensors[name + ".uncond"] = cond.contiguous(), uncond.contiguous()
    OUT.write_text(json.dumps(dict(prompts=prompts, pairs=pairs), indent=1) + "\n")
    save_file(tensors, TENSORS)
    for p in prompts:
        print(p["name"], len(p["chunks"]), [c.index(tokenizer.eos_token_id) for c in p["chunks"]])


if __name__ == "__main__":
    main()
