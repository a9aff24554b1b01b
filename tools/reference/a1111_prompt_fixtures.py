"""Reference fixtures for AUTOMATIC1111's prompt syntax and its default ("Original") emphasis.

diffusers has no A1111 syntax, so this is a reference implementation of the published
algorithm of stable-diffusion-webui (v1.10):

- `parse_attention` follows `modules/prompt_parser.py` `parse_prompt_attention`: the prompt
  is scanned into escapes (`\\(` `\\)` `\\[` `\\]` `\\\\`; a lone backslash is dropped), `(`,
  `[`, a `:weight)` closer, `)`, `]`, runs of plain text and lone `:`. `(` ... `)` multiplies
  the weight of everything written since the `(` by 1.1, `(... :w)` by w, `[` ... `]` by
  1 / 1.1; brackets left open at the end multiply what follows them all the same; closers
  with nothing open are plain text. `BREAK` (a whole word, with its surrounding whitespace)
  in plain text is a chunk break. Runs of equal weight are merged; an empty prompt is
  `[("", 1.0)]`.
- `tokenize_line` follows `modules/sd_hijack_clip.py`
  `FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line`: each fragment is tokenized on its
  own (no start/end tokens), its tokens get its weight, and they fill 75-token chunks: a
  full chunk ends after its last comma when that comma is within its last 20 tokens
  (`comma_padding_backtrack`), a BREAK ends the chunk at once (even an empty one). Each
  chunk is padded with the end token and wrapped in start / end tokens with weight 1
  (`next_chunk`), and, where the padding token is not the end token (SD 2), everything after
  the first end token becomes padding (`process_tokens`).
- `encode` follows `FrozenCLIPEmbedderWithCustomWords.encode_with_transformers`: the last
  hidden state, or with "Clip skip" n > 1 `hidden_states[-n]` through `final_layer_norm`.
- `emphasize` follows `modules/sd_emphasis.py` `EmphasisOriginal.after_transformers`, per
  chunk: `mean = z.mean(); z = z * weights; z = z * (mean / z.mean())`.
- A prompt's embeddings are its chunks' embeddings concatenated along the sequence
  (`FrozenCLIPEmbedderWithCustomWordsBase.forward`); a prompt / negative-prompt pair with
  different chunk counts has the shorter extended with the empty prompt's embeddings, as
  Overpaint's existing long-prompt handling (A1111's `pad_cond_uncond`) does.

Runs on the real CLIP tokenizer (Tests/Fixtures/clip-tokenizer, transformers' CLIPTokenizer)
and the tiny random CLIPTextModel of Tests/Fixtures/pipelines/sd-tiny/text_encoder (hidden
16, 2 layers, f32).

Writes Tests/Fixtures/prompts/a1111_prompts.json:
  {"prompts": [{"name", "text", "clip_skip", "fragments": [[text, weight], ...],
                "chunks": [[77 ids], ...], "multipliers": [[77 weights], ...]}],
   "pairs": [{"name", "prompt", "negative", "chunks"}]}
and a1111_prompts.safetensors (float32): `<name>` [1, 77 * chunks, 16] per prompt, and
`<pair>.cond` / `<pair>.uncond` per pair.

Run: nice /tmp/ref/bin/python tools/reference/a1111_prompt_fixtures.py
"""

import json
import re

import torch
from fixture_io import FIXTURES
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

OUT = FIXTURES / "prompts"

CHUNK = 75
BACKTRACK = 20
BREAK_WORD = re.compile(r"\s*\bBREAK\b\s*", re.S)
WEIGHT_CLOSER = re.compile(r":\s*([+-]?[.\d]+)\s*\)")
PLAIN = re.compile(r"[^\\()\[\]:]+")


def scan(text):
    """The pieces A1111's attention parser sees, as (kind, text, weight-or-None)."""
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            following = text[position + 1:position + 2]
            if following in ("(", ")", "[", "]", "\\"):
                yield "literal", following, None
                position += 2
            else:
                yield "literal", "", None
                position += 1
        elif char in "([)]":
            yield char, char, None
            position += 1
        elif char == ":":
            closer = WEIGHT_CLOSER.match(text, position)
            if closer:
                yield "weight", closer.group(0), closer.group(1)
                position = closer.end()
            else:
                yield "text", ":", None
                position += 1
        else:
            run = PLAIN.match(text, position)
            yield "text", run.group(0), None
            position = run.end()


def parse_attention(text):
    """[[fragment, weight], ...]; a BREAK is ["BREAK", -1]."""
    fragments, rounds, squares = [], [], []

    def multiply(start, factor):
        for fragment in fragments[start:]:
            fragment[1] *= factor

    for kind, piece, weight in scan(text):
        if kind == "literal":
            fragments.append([piece, 1.0])
        elif kind == "(":
            rounds.append(len(fragments))
        elif kind == "[":
            squares.append(len(fragments))
        elif kind == "weight" and rounds:
            multiply(rounds.pop(), float(weight))
        elif kind == ")" and rounds:
            multiply(rounds.pop(), 1.1)
        elif kind == "]" and squares:
            multiply(squares.pop(), 1 / 1.1)
        else:
            for index, part in enumerate(BREAK_WORD.split(piece)):
                if index > 0:
                    fragments.append(["BREAK", -1])
                fragments.append([part, 1.0])
    for start in rounds:
        multiply(start, 1.1)
    for start in squares:
        multiply(start, 1 / 1.1)
    if not fragments:
        fragments = [["", 1.0]]
    merged = [fragments[0]]
    for fragment in fragments[1:]:
        if fragment[1] == merged[-1][1]:
            merged[-1][0] += fragment[0]
        else:
            merged.append(fragment)
    return merged


def tokenize_line(tokenizer, text):
    """(fragments, chunks of 77 ids, their 77 weights)."""
    fragments = parse_attention(text)
    comma = tokenizer.get_vocab()[",</w>"]
    start, end, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    chunks, weights = [], []
    chunk, chunk_weights, last_comma = [], [], -1

    def close():
        nonlocal chunk, chunk_weights, last_comma
        fill = CHUNK - len(chunk)
        ids = [start] + chunk + [end] * (fill + 1)
        if pad != end:
            ids = ids[:ids.index(end) + 1] + [pad] * (len(ids) - ids.index(end) - 1)
        chunks.append(ids)
        weights.append([1.0] + chunk_weights + [1.0] * (fill + 1))
        chunk, chunk_weights, last_comma = [], [], -1

    for text_piece, weight in fragments:
        if text_piece == "BREAK" and weight == -1:
            close()
            continue
        for token in tokenizer(text_piece, truncation=False, add_special_tokens=False)["input_ids"]:
            if token == comma:
                last_comma = len(chunk)
            elif len(chunk) == CHUNK and last_comma != -1 and len(chunk) - last_comma <= BACKTRACK:
                cut = last_comma + 1
                moved, moved_weights = chunk[cut:], chunk_weights[cut:]
                chunk, chunk_weights = chunk[:cut], chunk_weights[:cut]
                close()
                chunk, chunk_weights = moved, moved_weights
            if len(chunk) == CHUNK:
                close()
            chunk.append(token)
            chunk_weights.append(weight)
    if chunk or not chunks:
        close()
    return fragments, chunks, weights


def encode(model, ids, clip_skip):
    outputs = model(torch.tensor([ids]), output_hidden_states=clip_skip > 1)
    if clip_skip > 1:
        # transformers 5 flattens CLIPTextModel: final_layer_norm is its own (text_model.final_layer_norm in 4.x)
        return model.final_layer_norm(outputs.hidden_states[-clip_skip])
    return outputs.last_hidden_state


def emphasize(z, weights):
    original_mean = z.mean()
    z = z * torch.asarray(weights).reshape(1, -1, 1).expand(z.shape)
    return z * (original_mean / z.mean())


def a1111_embeddings(tokenizer, model, text, clip_skip=1):
    """[1, 77 * chunks, hidden]: what A1111 conditions the UNet with for `text`."""
    _, chunks, weights = tokenize_line(tokenizer, text)
    with torch.no_grad():
        return torch.cat([emphasize(encode(model, ids, clip_skip), w) for ids, w in zip(chunks, weights)], dim=1)


LONG = ", ".join(["a very detailed oil painting of a quiet garden at dawn"] * 6)
PROMPTS = {
    "plain": "a photo of an astronaut riding a horse",
    "paren": "a (red) cat",
    "nested": "a ((red)) cat, (((blue sky)))",
    "explicit": "a (red cat:1.3) on a [wooden] table",
    "doctest": "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
    "spaced_weight": "(x: 1.5 ) ((y:0.8)) [[z]] w",
    "escapes": "a \\(literal\\) cat \\[x\\] and a \\\\ backslash, a lone \\q",
    "unbalanced": "(unbalanced [square",
    "stray_closers": "a) b] (c)",
    "colon_text": "a clock at 10:30, (golden:1.1) light",
    "break": "a cat BREAK a dog on the moon",
    "break_first": "BREAK a cat",
    "break_twice": "a cat BREAK BREAK (dog:1.2)",
    "long_weighted": LONG + ", (intricate brushwork, glowing morning light:1.25), masterpiece",
    "long_break": LONG + " BREAK (a red barn:0.7)",
    "empty": "",
    "clip_skip_2": "a (red:1.2) cat on a [blue] mat",
}
# A1111's "Clip skip" of the prompts that set one; the others are at 1
CLIP_SKIPS = {"clip_skip_2": 2}
PAIRS = [
    ("weighted_negative", "a (cat:1.2) in a garden", "(blurry:1.4), [low quality], jpeg"),
    ("long_weighted_negative", "a cat", LONG + ", (ugly:1.3)"),
]


def main():
    tokenizer = CLIPTokenizer.from_pretrained(FIXTURES / "clip-tokenizer")
    model = CLIPTextModel.from_pretrained(FIXTURES / "pipelines" / "sd-tiny" / "text_encoder",
                                          torch_dtype=torch.float32).eval()
    prompts, tensors = [], {}
    for name, text in PROMPTS.items():
        clip_skip = CLIP_SKIPS.get(name, 1)
        fragments, chunks, weights = tokenize_line(tokenizer, text)
        prompts.append(dict(name=name, text=text, clip_skip=clip_skip, fragments=fragments, chunks=chunks,
                            multipliers=weights))
        tensors[name] = a1111_embeddings(tokenizer, model, text, clip_skip).contiguous()
    long = next(p for p in prompts if p["name"] == "long_weighted")
    # the weighted span crosses the first chunk boundary
    assert long["multipliers"][0][75] == 1.25 and long["multipliers"][1][1] == 1.25, long["multipliers"]
    empty = a1111_embeddings(tokenizer, model, "")
    pairs = []
    for name, positive, negative in PAIRS:
        cond, uncond = a1111_embeddings(tokenizer, model, positive), a1111_embeddings(tokenizer, model, negative)
        count = max(cond.shape[1], uncond.shape[1]) // 77
        cond = torch.cat([cond] + [empty] * (count - cond.shape[1] // 77), dim=1)
        uncond = torch.cat([uncond] + [empty] * (count - uncond.shape[1] // 77), dim=1)
        pairs.append(dict(name=name, prompt=positive, negative=negative, chunks=count))
        tensors[name + ".cond"], tensors[name + ".uncond"] = cond.contiguous(), uncond.contiguous()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "a1111_prompts.json").write_text(json.dumps(dict(prompts=prompts, pairs=pairs), indent=1) + "\n")
    save_file(tensors, OUT / "a1111_prompts.safetensors")
    for p in prompts:
        print(p["name"], len(p["chunks"]), p["fragments"])


if __name__ == "__main__":
    main()
