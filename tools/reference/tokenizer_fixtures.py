"""Build the CLIP BPE tokenizer files (diffusers `tokenizer/` layout) and token-id fixtures.

The vocabulary comes from open_clip's `bpe_simple_vocab_16e6.txt.gz` (MIT), built exactly as
OpenAI's CLIP does; the special tokens carry the Hugging Face names. The ids of each prompt are
transformers' CLIPTokenizer (the truth for diffusers pipelines), cross-checked against open_clip.

Writes Tests/Fixtures/clip-tokenizer/{vocab.json,merges.txt,tokenizer_config.json,
special_tokens_map.json,prompts.json}. Deterministic; re-runnable.
"""
import gzip
import json
import os
import sys
import types
import unicodedata

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "clip-tokenizer")

# open_clip imports ftfy (not in the reference environment). ftfy.fix_text on clean text is NFC
# normalisation; prompts where ftfy would do more are listed as expected differences below.
ftfy = types.ModuleType("ftfy")
ftfy.fix_text = lambda text: unicodedata.normalize("NFC", text)
sys.modules.setdefault("ftfy", ftfy)

import importlib.util  # noqa: E402
import sysconfig  # noqa: E402

# Load open_clip/tokenizer.py alone: the package __init__ needs torchvision, the tokenizer does not.
_spec = importlib.util.spec_from_file_location(
    "open_clip_tokenizer", os.path.join(sysconfig.get_paths()["purelib"], "open_clip", "tokenizer.py"))
oct = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oct)
from transformers import CLIPTokenizer  # noqa: E402


def build_vocabulary():
    merges = gzip.open(oct.default_bpe()).read().decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    byte_symbols = list(oct.bytes_to_unicode().values())
    vocab = byte_symbols + [s + "</w>" for s in byte_symbols]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(vocab)}, merges


def write_tokenizer_folder():
    os.makedirs(OUT, exist_ok=True)
    vocab, merges = build_vocabulary()
    with open(os.path.join(OUT, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(OUT, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    specials = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    }
    with open(os.path.join(OUT, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f, indent=2)
    config = dict(specials, model_max_length=77, do_lower_case=True, tokenizer_class="CLIPTokenizer")
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)


def prompts():
    p = [
        "", " ", "   \t\n  ", "a photo of a cat", "A Photo Of A CAT", "a photo of a cat.",
        "a watercolor painting of a lighthouse at dusk, trending on artstation",
        "masterpiece, best quality, ultra-detailed, 8k, (cinematic lighting:1.2)",
        "it's", "it's a dog's life", "they're", "we've", "I'm", "you'll", "he'd", "IT'S", "It'S",
        "rock 'n' roll", "''quoted''", "'s", "don't stop", "o'clock", "James' car",
        "123", "3.14159", "1,000,000 stars", "20th century", "x4 upscaler 512x512", "v1.5 vs v2.1",
        "café", "naïve résumé", "crème brûlée", "Ångström", "über", "São Paulo", "Łódź", "straße",
        "ÉCOLE", "e\u0301cole (decomposed accent)", "ﬁne ligature", "Ǆ digraph", "İstanbul",
        "ΣΊΣΥΦΟΣ", "Привет мир", "Москва", "日本語のテキスト", "東京タワー", "中文提示词", "한국어 문장",
        "ไทย", "हिन्दी", "العربية", "עברית", "Ελληνικά", "emoji 🐱🐶", "🔥🔥🔥", "👩‍👩‍👧‍👦 family",
        "❤️ heart", "flag 🇫🇷", "✨sparkles✨", "smile :) ;-) <3", "a|b|c", "a/b\\c", "path/to/file.png",
        "email@example.com", "https://example.com/a?b=c&d=e", "#hashtag @mention", "$100 & 50%",
        "(((masterpiece)))", "[bad hands]", "{curly}", "a -- b --- c", "...", "!!!???", "wait...what?!",
        "tabs\tand\nnewlines\r\nhere", "  leading and trailing  ", "multiple     spaces", "\u00a0nbsp\u00a0",
        "\u3000ideographic space", "zero\u200bwidth", "soft\u00adhyphen", "<|startoftext|>", "<|endoftext|>",
        "hello <|endoftext|> world", "<|ENDOFTEXT|>", "<start_of_text>", "ALL CAPS SHOUTING", "MiXeD CaSe",
        "camelCaseWord", "snake_case_word", "kebab-case-word", "under_score", "hyphen-ated", "a\u2019s curly",
        "\u201cquoted\u201d", "\u2014em dash\u2014", "\u2026", "½ ¼ ¾", "², ³", "①②③", "Ⅻ roman", "٣ arabic digit",
        "mix123abc456", "0", "a", "z", "Z", "supercalifragilisticexpialidocious",
        "pneumonoultramicroscopicsilicovolcanoconiosis", "antidisestablishmentarianism", "©®™", "°C and °F",
        "→ ← ↑ ↓", "∑∫√∞", "αβγ", "♠♣♥♦", "\x00null", "\x7fdel", "\u0007bell", "tab\u000bvt",
        "&amp; html entity", "&lt;tag&gt;", "ñandú", "ç", "ø", "æ", "œuvre", "ß", "ÿ", "Ÿ", "ı dotless",
        "a photo of an astronaut riding a horse on mars", "portrait of a woman, oil on canvas, by rembrandt",
        "a cute corgi wearing sunglasses, digital art", "cyberpunk city at night, neon lights, rain",
        "low poly 3d render of a fox", "studio ghibli style landscape", "a bowl of ramen, food photography",
        "ukiyo-e print of mount fuji", "pixel art castle", "macro shot of a dewdrop on a leaf",
    ]
    words = "the quick brown fox jumps over the lazy dog while a majestic eagle soars above".split()
    p.append(" ".join(words * 8))
    p.append(", ".join(["highly detailed"] * 40))
    p.append("a " * 100)
    p.append("🐱" * 40)
    p.append("日本" * 60)
    p.append(" ".join(str(i) for i in range(60)))
    p.append("x" * 400)
    p.append("lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
             "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris "
             "nisi ut aliquip ex ea commodo consequat.")
    p.append("exactly seventy five " * 25)
    for n in (73, 74, 75, 76, 77, 78):
        p.append(" ".join(["cat"] * n))
    adjectives = ["red", "tiny", "ancient", "glowing", "fluffy", "rusty", "crystal", "floating", "Sleepy", "GIANT"]
    nouns = ["robot", "castle", "forest", "teapot", "dragon", "bicycle", "whale", "library", "mushroom", "Train"]
    styles = ["in the style of van gogh", "8k uhd", "isometric", "(oil painting)", "by Greg Rutkowski",
              "— studio lighting", "trending on ArtStation!", "f/1.8, 85mm", "hdr; vivid colors", "sketch..."]
    for i in range(60):
        p.append(f"a {adjectives[i % 10]} {nouns[(i * 3) % 10]} {styles[(i * 7) % 10]}")
    return p


def main():
    write_tokenizer_folder()
    hf = CLIPTokenizer.from_pretrained(OUT)
    oc = oct.SimpleTokenizer()
    cases, differ = [], []
    for text in prompts():
        padded = hf(text, padding="max_length", max_length=77, truncation=True).input_ids
        full = hf(text).input_ids
        # open_clip's names for the specials differ; compare the ordinary-text prompts only.
        if "<" not in text and "&" not in text:
            if oc.encode(text) != full[1:-1]:
                differ.append(text)
        cases.append({"text": text, "input_ids": padded, "untruncated_ids": full})
    sd2 = CLIPTokenizer.from_pretrained(OUT, pad_token="!")
    sd2_cases = [{"text": t, "input_ids": sd2(t, padding="max_length", max_length=77, truncation=True).input_ids}
                 for t in ["", "a photo of a cat", " ".join(["cat"] * 80)]]
    with open(os.path.join(OUT, "prompts.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases, "pad_exclamation_cases": sd2_cases}, f, ensure_ascii=False, indent=0)
    print(f"{len(cases)} prompts; open_clip differs on {len(differ)}: {differ!r}")


if __name__ == "__main__":
    main()
