#!/usr/bin/env python3
"""Writes Tests/Fixtures/malformed: broken images, masks, recipes and model files.

Python's standard library only, deterministic (seeded generators), so rerunning it
reproduces the committed corpus byte for byte. Every case is derived from a small valid
seed (the fuzzers' seeds and the codec fixtures) by one named damage:

- images/: each seed image truncated at eight places, with single bytes flipped, with a
  run of bytes scrambled; plus crafted headers (PNG IHDR / JPEG SOF / TIFF tags claiming
  huge, zero or odd sizes, with valid CRCs so libpng gets as far as its size checks),
  empty files, text files and other formats under an image's extension; HEIC and AVIF
  fixtures damaged the same ways and with ispe boxes claiming huge or zero sizes; BMP
  fixtures and photos carrying XMP damaged the same ways, and BMP headers claiming huge or
  zero sizes, RLE, 64-bit pixels or a pixel offset inside the header.
- masks/: good photos in masks-images/ whose masks are broken the same ways.
- recipes/: the repo's recipes with a line deleted, a value's type changed, bytes that
  are not UTF-8, an alias bomb ("billion laughs"), deep nesting and huge numbers.
- models/: safetensors files whose header length, JSON, dtypes, shapes or offsets lie.

    python3 tools/fuzz/make_malformed_corpus.py    # rewrites Tests/Fixtures/malformed
"""
import json
import random
import shutil
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/Fixtures/malformed"
CODECS = ROOT / "Tests/Fixtures/codecs"
RNG = random.Random(20261202)


def seed_images():
    """The codec fixtures, but for the HEIF fixtures' sources and the XMP photos (their cases come
    last, see heif_cases and bmp_and_xmp_cases)."""
    return sorted(p for p in CODECS.iterdir() if p.suffix in (".png", ".jpg", ".tif")
                  and not p.name.startswith(("heif_", "xmp_")))


def truncations(data):
    cuts = sorted({0, 1, 8, 16, len(data) // 3, len(data) // 2, len(data) * 3 // 4, len(data) - 1})
    return {f"cut{cut}": data[:cut] for cut in cuts if cut < len(data)}


def flips(data, count, rng=RNG):
    cases = {}
    for index in range(count):
        damaged = bytearray(data)
        offset = rng.randrange(len(data))
        damaged[offset] ^= 1 << rng.randrange(8)
        cases[f"flip{index}-at{offset}"] = bytes(damaged)
    return cases


def scrambled(data, rng=RNG):
    damaged = bytearray(data)
    start = rng.randrange(max(1, len(data) - 16))
    for offset in range(start, min(len(data), start + 16)):
        damaged[offset] = rng.randrange(256)
    return {f"scramble-at{start}": bytes(damaged)}


def damaged_versions(data, rng=RNG):
    cases = truncations(data)
    cases.update(flips(data, 3, rng))
    cases.update(scrambled(data, rng))
    return cases


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width, height, depth=8, colour=2, rows=b"", interlace=0):
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def crafted_pngs():
    return {
        "huge-500000000x1.png": png(500_000_000, 1),
        "huge-2147483647x48.png": png(2_147_483_647, 48),
        "huge-rgba16-100000x100000.png": png(100_000, 100_000, depth=16, colour=6),
        "huge-gray16-10000x9990.png": png(10_000, 9_990, depth=16, colour=0, rows=b"\0" * 20_001),
        "huge-interlaced-65535x65535.png": png(65_535, 65_535, interlace=1),
        "zero-width.png": png(0, 16),
        "zero-height.png": png(16, 0),
        "bad-depth.png": png(4, 4, depth=7),
        "bad-colour-type.png": png(4, 4, colour=5),
        "palette-without-plte.png": png(4, 4, colour=3, rows=b"\0\0\0\0\0" * 4),
        "rows-missing.png": png(64, 64),
        "rows-too-long.png": png(2, 2, colour=0, rows=b"\0\1\2\3\4\5\6\7" * 64),
        "bad-filter.png": png(2, 2, colour=0, rows=b"\x09\1\2\x09\3\4"),
        "signature-only.png": b"\x89PNG\r\n\x1a\n",
        "no-iend.png": png(2, 2, colour=0, rows=b"\0\1\2\0\3\4")[:-12],
        "huge-text-chunk.png": (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
                                + struct.pack(">I", 0x7FFFFFF0) + b"tEXt" + b"parameters\0"),
    }


def jpeg_with_size(seed, width, height):
    data = bytearray(seed)
    for marker in (0xC0, 0xC1, 0xC2):
        at = data.find(bytes([0xFF, marker]))
        if at >= 0:
            struct.pack_into(">HH", data, at + 5, height, width)
            return bytes(data)
    raise ValueError("no SOF marker")


def crafted_jpegs():
    seed = (CODECS / "jpeg_rgb.jpg").read_bytes()
    progressive = (CODECS / "jpeg_progressive.jpg").read_bytes()
    return {
        "huge-65535x65535.jpg": jpeg_with_size(seed, 65_535, 65_535),
        "huge-65500x65500.jpg": jpeg_with_size(seed, 65_500, 65_500),
        "huge-progressive-65535x65535.jpg": jpeg_with_size(progressive, 65_535, 65_535),
        "zero-width.jpg": jpeg_with_size(seed, 0, 16),
        "zero-height.jpg": jpeg_with_size(seed, 16, 0),
        "soi-only.jpg": b"\xff\xd8",
        "soi-eoi.jpg": b"\xff\xd8\xff\xd9",
        "exif-loop.jpg": seed[:2] + b"\xff\xe1\x00\x16Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01" + seed[2:],
        "app-length-past-end.jpg": seed[:2] + b"\xff\xe1\xff\xff" + b"Exif\0\0",
    }


def tiff(width, height, extra=b""):
    tags = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
            (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 4)]
    entries = b"".join(struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in tags)
    body = b"\0\0\0\0" + extra
    return (b"II*\0" + struct.pack("<I", 8 + len(body)) + body
            + struct.pack("<H", len(tags)) + entries + b"\0\0\0\0")


def crafted_tiffs():
    return {
        "huge-4294967295x1.tif": tiff(0xFFFFFFFF, 1),
        "huge-100000x100000.tif": tiff(100_000, 100_000),
        "zero-width.tif": tiff(0, 4),
        "strip-past-end.tif": tiff(1, 4)[:-20],
        "ifd-offset-past-end.tif": b"II*\0\xff\xff\xff\x7f",
        "ifd-loop.tif": b"II*\0\x08\0\0\0\x00\x00\x08\0\0\0",
        "big-endian-header-only.tif": b"MM\0*",
    }


def with_ispe(data, width, height):
    """Every ispe box (size, "ispe", version and flags, width, height) claiming width x height."""
    damaged = bytearray(data)
    at = damaged.find(b"ispe")
    while at >= 0:
        struct.pack_into(">II", damaged, at + 8, width, height)
        at = damaged.find(b"ispe", at + 4)
    return bytes(damaged)


def heif_cases():
    """HEIC and AVIF fixtures damaged, and crafted. Their own generator: adding them left every
    earlier case as it was."""
    rng = random.Random(20261203)
    cases = {}
    for seed in ("heif_rgb.heic", "heif_camera.heic", "avif_rgb.avif"):
        path = CODECS / seed
        for name, data in damaged_versions(path.read_bytes(), rng).items():
            cases[f"{path.stem}.{name}{path.suffix}"] = data
    heic = (CODECS / "heif_rgb.heic").read_bytes()
    avif = (CODECS / "avif_rgb.avif").read_bytes()
    cases.update({
        "huge-40000x40000.heic": with_ispe(heic, 40_000, 40_000),
        "huge-20000x10000.heic": with_ispe(heic, 20_000, 10_000),
        "huge-32768x32768.avif": with_ispe(avif, 32_768, 32_768),
        "zero-size.avif": with_ispe(avif, 0, 0),
        "ftyp-only.heic": heic[:struct.unpack(">I", heic[:4])[0]],
        "mp4-named-heic.heic": b"\0\0\0\x18ftypisom\0\0\x02\0isommp41" + b"\0" * 64,
    })
    return cases


def bmp(width, height, bits=24, compression=0, offset=None, rows=b""):
    """A file header and a BITMAPINFOHEADER claiming width x height, then `rows`."""
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression, 0, 2835, 2835, 0, 0)
    offset = 54 if offset is None else offset
    return b"BM" + struct.pack("<IHHI", 54 + len(rows), 0, 0, offset) + header + rows


def bmp_and_xmp_cases():
    """BMP fixtures damaged, crafted BMP headers, and photos carrying XMP damaged (the packet
    too). Their own generator: adding them left every earlier case as it was."""
    rng = random.Random(20261207)
    cases = {}
    for seed in ("bmp_rgb24.bmp", "bmp_palette4.bmp", "bmp_v4_rgba_topdown.bmp", "xmp_camera.png", "xmp_camera.jpg"):
        path = CODECS / seed
        stem = path.name.replace(".", "_")  # xmp_camera_png, xmp_camera_jpg: outputs of distinct names
        for name, data in damaged_versions(path.read_bytes(), rng).items():
            cases[f"{stem}.{name}{path.suffix}"] = data
    crafted = {
        "huge-100000x100000": bmp(100_000, 100_000),
        "huge-top-down-65536x65536": bmp(65_536, -65_536),
        "rows-missing-10000x9999": bmp(10_000, 9_999, rows=b"\0" * 16),
        "zero-width": bmp(0, 16),
        "rle8": bmp(4, 4, bits=8, compression=1, rows=b"\0" * 16),
        "64-bit": bmp(2, 2, bits=64, rows=b"\0" * 32),
        "offset-inside-header": bmp(2, 2, offset=20, rows=b"\0" * 16),
        "header-only": bmp(8, 8)[:30],
    }
    cases.update({f"bmp-{name}.bmp": data for name, data in crafted.items()})
    return cases


def disguised():
    return {
        "empty.png": b"",
        "empty.jpg": b"",
        "empty.tif": b"",
        "text.png": b"not an image at all\n",
        "html.jpg": b"<!DOCTYPE html><html><body>hello</body></html>",
        "gif.png": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "zeros.png": b"\0" * 4096,
        "random.jpg": bytes(RNG.randrange(256) for _ in range(2048)),
        "elf.tif": b"\x7fELF" + b"\0" * 60,
        "pdf.png": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    }


def write_images():
    folder = OUT / "images"
    for seed in seed_images():
        for name, data in damaged_versions(seed.read_bytes()).items():
            (folder / f"{seed.stem}.{name}{seed.suffix}").write_bytes(data)
    for name, data in {**crafted_pngs(), **crafted_jpegs(), **crafted_tiffs(), **disguised(), **heif_cases(),
                       **bmp_and_xmp_cases()}.items():
        (folder / name).write_bytes(data)


def write_masks():
    """A good photo per broken mask: the mask's damage must fail that image alone."""
    images = OUT / "masks-images"
    masks = images / "masks"
    masks.mkdir(parents=True)
    photo = (CODECS / "png_rgb8.png").read_bytes()
    mask_seed = (CODECS / "png_gray8.png").read_bytes()
    cases = truncations(mask_seed)
    cases.update(flips(mask_seed, 4))
    cases.update({"huge": png(500_000_000, 1, colour=0), "empty": b"", "text": b"mask\n",
                  "zero-width": png(0, 5, colour=0), "jpeg-inside": (CODECS / "jpeg_gray.jpg").read_bytes()})
    for name, data in cases.items():
        (images / f"{name}.png").write_bytes(photo)
        (masks / f"{name}.png").write_bytes(data)
    (images / "missing-mask.png").write_bytes(photo)


RECIPE_DAMAGE = [
    ("delete-line", lambda lines: lines[:RNG.randrange(len(lines))] + lines[RNG.randrange(len(lines)):]),
    ("tab-indent", lambda lines: [line.replace("  ", "\t", 1) for line in lines]),
    ("unclosed-bracket", lambda lines: [line.replace("]", "", 1) for line in lines]),
    ("unclosed-quote", lambda lines: [line.replace('"', "", 1) for line in lines]),
    ("steps-string", lambda lines: [line.replace("steps:", "steps: many #", 1) for line in lines]),
    ("steps-huge", lambda lines: [line.replace("steps:", "steps: 99999999999999999999 #", 1) for line in lines]),
    ("strength-negative", lambda lines: [line.replace("strength:", "strength: -1 #", 1) for line in lines]),
    ("edits-mapping", lambda lines: [line.replace("edits:", "edits: {a: 1}\nignored:", 1) for line in lines]),
    ("duplicate-key", lambda lines: lines + [lines[0]]),
    ("indent-shift", lambda lines: [" " + line if index % 2 else line for index, line in enumerate(lines)]),
]


def recipe_cases():
    cases = {}
    for recipe in sorted((ROOT / "recipes").glob("*.yaml")):
        lines = recipe.read_text().splitlines()
        for name, damage in RECIPE_DAMAGE:
            cases[f"{recipe.stem}.{name}.yaml"] = "\n".join(damage(lines)).encode()
        text = recipe.read_bytes()
        cut = RNG.randrange(len(text))
        cases[f"{recipe.stem}.cut{cut}.yaml"] = text[:cut]
        cases[f"{recipe.stem}.latin1.yaml"] = text.replace(b"a", b"\xe9", 3)
    laughs = ["version: 1", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        current = chr(ord("a") + level)
        laughs.append(f"{current}: &{current} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, "
                      f"*{previous}, *{previous}, *{previous}, *{previous}, *{previous}]")
    laughs.append("edits: *j")
    cases.update({
        "billion-laughs.yaml": "\n".join(laughs).encode(),
        "deep-nesting.yaml": b"edits: " + b"[" * 10_000 + b"]" * 10_000,
        "deep-mapping.yaml": b"edits:\n" + b"".join(b"  " * depth + b"k:\n" for depth in range(1, 400)),
        "empty.yaml": b"",
        "null.yaml": b"~\n",
        "list-at-top.yaml": b"- img2img: {prompt: x}\n",
        "nul-bytes.yaml": b"version: 1\0\nedits: []\n",
        "bom-utf16.yaml": "version: 1\nedits:\n  - fill: {method: telea}\n".encode("utf-16"),
        "huge-seed.yaml": b"seed: 1e400\nedits:\n  - fill: {method: telea}\n",
        "version-99.yaml": b"version: 99\nedits:\n  - fill: {method: telea}\n",
        "unknown-edit.yaml": b"edits:\n  - paint: {prompt: x}\n",
        "template-escape.yaml": b"output: {path: \"../../{stem}.png\"}\nedits:\n  - fill: {method: telea}\n",
        "template-unknown.yaml": b"output: {path: \"{nope}.png\"}\nedits:\n  - fill: {method: telea}\n",
        "absolute-output.yaml": b"output: {path: \"/etc/{stem}.png\"}\nedits:\n  - fill: {method: telea}\n",
        "glob-number.yaml": b"match: {images: 5}\nedits:\n  - fill: {method: telea}\n",
        "glob-unclosed-class.yaml": b"match: {images: [\"[abc.png\"]}\nedits:\n  - fill: {method: telea}\n",
        "long-line.yaml": b"description: " + b"x" * 70_000 + b"\nedits:\n  - fill: {method: telea}\n",
        "env-unset.yaml": b"model: ${OVERPAINT_SURELY_UNSET}/sd\nedits:\n  - img2img: {prompt: x}\n",
    })
    return cases


def write_recipes():
    folder = OUT / "recipes"
    for name, data in recipe_cases().items():
        (folder / name).write_bytes(data)


def safetensors(header, payload=b"", length=None):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + payload


def model_cases():
    good = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    payload = b"\0" * 16
    cases = {
        "empty": b"",
        "length-only": struct.pack("<Q", 16),
        "length-huge": safetensors(good, payload, length=2 ** 63),
        "length-past-end": safetensors(good, payload, length=4096),
        "length-zero": safetensors(b"", payload, length=0),
        "not-json": safetensors(b"{not json", payload),
        "json-list": safetensors([1, 2, 3], payload),
        "json-deep": safetensors(b"[" * 20_000 + b"]" * 20_000),
        "dtype-unknown": safetensors({"w": {**good["w"], "dtype": "F7"}}, payload),
        "shape-negative": safetensors({"w": {**good["w"], "shape": [-2, -2]}}, payload),
        "shape-overflow": safetensors({"w": {**good["w"], "shape": [2 ** 62, 2 ** 62]}}, payload),
        "shape-string": safetensors({"w": {**good["w"], "shape": "2x2"}}, payload),
        "offsets-reversed": safetensors({"w": {**good["w"], "data_offsets": [16, 0]}}, payload),
        "offsets-past-end": safetensors({"w": {**good["w"], "data_offsets": [0, 1 << 40]}}, payload),
        "offsets-mismatch-shape": safetensors({"w": {**good["w"], "data_offsets": [0, 12]}}, payload[:12]),
        "offsets-overlap": safetensors({**good, "v": good["w"]}, payload),
        "offsets-missing": safetensors({"w": {"dtype": "F32", "shape": [2, 2]}}, payload),
        "metadata-not-strings": safetensors({"__metadata__": {"a": 1}, **good}, payload),
        "name-empty": safetensors({"": good["w"]}, payload),
        "header-nul": safetensors(json.dumps(good).encode() + b"\0\0\0", payload),
        "header-not-utf8": safetensors(b'{"\xff": 1}', payload),
        "pickle-named-safetensors": b"\x80\x02}q\x00(X\x01\x00\x00\x00wq\x01.",
        "zip-named-safetensors": b"PK\x03\x04" + b"\0" * 60,
        "gguf-named-safetensors": b"GGUF\x03\0\0\0" + b"\0" * 32,
    }
    valid = safetensors(good, payload)
    cases.update({f"good.{name}": data for name, data in damaged_versions(valid).items()})
    return cases


def write_models():
    folder = OUT / "models"
    for name, data in model_cases().items():
        (folder / f"{name}.safetensors").write_bytes(data)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    for folder in ("images", "recipes", "models"):
        (OUT / folder).mkdir(parents=True)
    write_images()
    write_masks()
    write_recipes()
    write_models()
    counts = {folder.name: sum(1 for item in folder.rglob("*") if item.is_file()) for folder in OUT.iterdir()}
    print(f"{sum(counts.values())} cases: {counts}")


if __name__ == "__main__":
    main()
