"""Fixtures for Imaging's codecs and resampling (Tests/Fixtures/codecs).

Files are written by independent encoders (Pillow, OpenCV, and a minimal PNG writer here
for layouts neither produces: interlaced, 16-bit gray+alpha, gray tRNS). Expected samples
come from numpy (lossless formats) or from Pillow's decoder (JPEG), stored raw: uint8, or
uint16 little-endian. Resize expectations are Pillow's Image.resize / ImageOps on "F"
images per channel, clamped to 0...1 between and after the two passes (float32 LE), and
Pillow's own result on the 8-bit RGB image.

Deterministic: run `python tools/reference/codec_fixtures.py` from the package root.
"""
import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "codecs"
rng = np.random.default_rng(20261124)
decode_cases = []


def raw_bytes(array):
    array = np.ascontiguousarray(array)
    return array.astype("<u2").tobytes() if array.dtype == np.uint16 else array.astype(np.uint8).tobytes()


def record(name, expected, tolerance=0):
    """expected: HxW or HxWxC uint8/uint16 array of what a decoder should deliver.

    JPEG expectations are Pillow's decode; libjpeg-turbo's default (islow) IDCT and fancy
    upsampling are deterministic across builds, so they hold to the level (tolerance 0).
    """
    expected = expected if expected.ndim == 3 else expected[:, :, None]
    stem = Path(name).stem
    (OUT / f"{stem}.expected").write_bytes(raw_bytes(expected))
    decode_cases.append({
        "file": name, "expected": f"{stem}.expected",
        "height": expected.shape[0], "width": expected.shape[1], "channels": expected.shape[2],
        "bitDepth": 16 if expected.dtype == np.uint16 else 8, "tolerance": tolerance,
    })


def random_u8(shape):
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def random_u16(shape):
    return rng.integers(0, 65536, size=shape, dtype=np.uint16)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, array, color_type, interlaced=False, extra_chunks=()):
    """A minimal PNG encoder (filter 0) for layouts Pillow and OpenCV cannot write."""
    array = array if array.ndim == 3 else array[:, :, None]
    height, width, _ = array.shape
    depth = 16 if array.dtype == np.uint16 else 8
    big = array.astype(">u2") if depth == 16 else array

    def scanlines(image):
        return b"".join(b"\x00" + image[y].tobytes() for y in range(image.shape[0]))

    if interlaced:
        data = b""
        for x0, y0, dx, dy in ADAM7:
            sub = big[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                data += scanlines(sub)
    else:
        data = scanlines(big)
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlaced else 0)
    body = png_chunk(b"IHDR", header) + b"".join(extra_chunks)
    body += png_chunk(b"IDAT", zlib.compress(data, 9)) + png_chunk(b"IEND", b"")
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def png_fixtures():
    h, w = 5, 7
    for mode, name, shape in [("L", "png_gray8", (h, w)), ("LA", "png_graya8", (h, w, 2)),
                              ("RGB", "png_rgb8", (h, w, 3)), ("RGBA", "png_rgba8", (h, w, 4))]:
        array = random_u8(shape)
        Image.fromarray(array, mode).save(OUT / f"{name}.png")
        record(f"{name}.png", array)

    gray16 = random_u16((h, w))
    Image.fromarray(gray16).save(OUT / "png_gray16.png")  # Pillow writes I;16 as 16-bit gray
    record("png_gray16.png", gray16)
    for name, channels, code in [("png_rgb16", 3, cv2.COLOR_RGB2BGR), ("png_rgba16", 4, cv2.COLOR_RGBA2BGRA)]:
        array = random_u16((h, w, channels))
        cv2.imwrite(str(OUT / f"{name}.png"), cv2.cvtColor(array, code))
        record(f"{name}.png", array)
    graya16 = random_u16((h, w, 2))
    write_png(OUT / "png_graya16.png", graya16, color_type=4)
    record("png_graya16.png", graya16)

    rgba = random_u8((9, 11, 4))
    write_png(OUT / "png_interlaced_rgba8.png", rgba, color_type=6, interlaced=True)
    record("png_interlaced_rgba8.png", rgba)
    gray16i = random_u16((9, 11))
    write_png(OUT / "png_interlaced_gray16.png", gray16i, color_type=0, interlaced=True)
    record("png_interlaced_gray16.png", gray16i)

    gray = random_u8((h, w)) // 64 * 64  # few levels so the transparent key occurs
    write_png(OUT / "png_gray_trns.png", gray, color_type=0, extra_chunks=[png_chunk(b"tRNS", struct.pack(">H", 128))])
    record("png_gray_trns.png", np.dstack([gray, np.where(gray == 128, 0, 255).astype(np.uint8)]))

    wide_palette = random_u8((256, 3))
    wide_indices = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    wide_indices[0, 0] = 255  # so Pillow keeps an 8-bit palette
    image = Image.fromarray(wide_indices, "P")
    image.putpalette(wide_palette.flatten().tolist())
    image.save(OUT / "png_palette.png")
    assert np.array_equal(np.asarray(Image.open(OUT / "png_palette.png").convert("RGB")), wide_palette[wide_indices])
    record("png_palette.png", wide_palette[wide_indices])

    palette = random_u8((16, 3))
    indices = rng.integers(0, 16, size=(h, w), dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.flatten().tolist())
    image.save(OUT / "png_palette4.png")  # 16 colours: Pillow writes a 4-bit palette
    record("png_palette4.png", palette[indices])
    alphas = bytes(rng.integers(0, 256, size=16, dtype=np.uint8))
    image.save(OUT / "png_palette_trns.png", transparency=alphas)
    expected = np.dstack([palette[indices], np.frombuffer(alphas, np.uint8)[indices]])
    assert np.array_equal(np.asarray(Image.open(OUT / "png_palette_trns.png").convert("RGBA")), expected)
    record("png_palette_trns.png", expected)

    bits = random_u8((h, w)) > 127
    Image.fromarray(bits).save(OUT / "png_gray1.png")
    record("png_gray1.png", np.where(bits, 255, 0).astype(np.uint8))

    one = np.array([[[12, 200, 77]]], np.uint8)
    Image.fromarray(one, "RGB").save(OUT / "png_1x1.png")
    record("png_1x1.png", one)


def text_fixture():
    info = PngImagePlugin.PngInfo()
    parameters = "a photo of a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DDIM, Seed: 42"
    info.add_text("parameters", parameters)
    info.add_text("Comment", "caf\u00e9 cr\u00e8me")  # Latin-1: tEXt
    info.add_itxt("Title", "\u65e5\u672c\u8a9e \u2713")  # iTXt, UTF-8
    info.add_text("Zipped", "repeat " * 40, zip=True)  # zTXt
    Image.fromarray(random_u8((3, 4, 3)), "RGB").save(OUT / "png_text.png", pnginfo=info)
    expected = dict(Image.open(OUT / "png_text.png").text)
    (OUT / "png_text.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")


def pillow_decoded(path, transpose=False):
    image = Image.open(path)
    image = ImageOps.exif_transpose(image) if transpose else image
    return np.asarray(image)


def corner_image():
    """8x4 RGB with a distinct solid colour in each 4x2 quadrant, so every flip is visible."""
    array = np.zeros((4, 8, 3), np.uint8)
    array[:2, :4] = (230, 30, 30)
    array[:2, 4:] = (30, 230, 30)
    array[2:, :4] = (30, 30, 230)
    array[2:, 4:] = (240, 240, 240)
    return array


def jpeg_fixtures():
    base = (np.add.outer(np.arange(12) * 18, np.arange(16) * 9)).astype(np.uint8)
    rgb = np.dstack([base, base[::-1], 255 - base]).astype(np.uint8)
    Image.fromarray(base, "L").save(OUT / "jpeg_gray.jpg", quality=90)
    record("jpeg_gray.jpg", pillow_decoded(OUT / "jpeg_gray.jpg"))
    Image.fromarray(rgb, "RGB").save(OUT / "jpeg_rgb.jpg", quality=90)
    record("jpeg_rgb.jpg", pillow_decoded(OUT / "jpeg_rgb.jpg"))
    Image.fromarray(rgb, "RGB").save(OUT / "jpeg_progressive.jpg", quality=90, progressive=True)
    assert Image.open(OUT / "jpeg_progressive.jpg").info.get("progressive")
    record("jpeg_progressive.jpg", pillow_decoded(OUT / "jpeg_progressive.jpg"))

    corners = Image.fromarray(corner_image(), "RGB")
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        name = f"jpeg_orientation{orientation}.jpg"
        corners.save(OUT / name, quality=95, subsampling=0, exif=exif.tobytes())
        record(name, pillow_decoded(OUT / name, transpose=True))

    Image.fromarray(random_u8((4, 6, 4)), "CMYK").save(OUT / "jpeg_cmyk.jpg", quality=90)
    assert Image.open(OUT / "jpeg_cmyk.jpg").mode == "CMYK"


def tiff_fixtures():
    h, w = 5, 7
    for mode, name, shape, compression in [("L", "tiff_gray8", (h, w), "tiff_lzw"),
                                           ("RGB", "tiff_rgb8", (h, w, 3), None),
                                           ("RGBA", "tiff_rgba8", (h, w, 4), "tiff_adobe_deflate")]:
        array = random_u8(shape)
        Image.fromarray(array, mode).save(OUT / f"{name}.tif", compression=compression)
        record(f"{name}.tif", array)
    gray16 = random_u16((h, w))
    Image.fromarray(gray16).save(OUT / "tiff_gray16.tif", compression="tiff_adobe_deflate")
    assert Image.open(OUT / "tiff_gray16.tif").mode == "I;16"
    record("tiff_gray16.tif", gray16)
    for name, channels, code in [("tiff_rgb16", 3, cv2.COLOR_RGB2BGR), ("tiff_rgba16", 4, cv2.COLOR_RGBA2BGRA)]:
        array = random_u16((h, w, channels))
        cv2.imwrite(str(OUT / f"{name}.tif"), cv2.cvtColor(array, code))
        record(f"{name}.tif", array)

    pages = [random_u8((h, w, 3)) for _ in range(3)]
    Image.fromarray(pages[0]).save(OUT / "tiff_multipage.tif", save_all=True,
                                   append_images=[Image.fromarray(page) for page in pages[1:]])
    assert Image.open(OUT / "tiff_multipage.tif").n_frames == 3
    record("tiff_multipage.tif", pages[0])

    palette = random_u8((8, 3))
    indices = rng.integers(0, 8, size=(h, w), dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.flatten().tolist())
    image.save(OUT / "tiff_palette.tif")
    record("tiff_palette.tif", palette[indices])
    bits = random_u8((h, w)) > 127
    Image.fromarray(bits).save(OUT / "tiff_bilevel.tif", compression="group4")
    record("tiff_bilevel.tif", np.where(bits, 255, 0).astype(np.uint8))


FILTERS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
           "bicubic": Image.Resampling.BICUBIC, "lanczos3": Image.Resampling.LANCZOS}


def pillow_resize_call(operation, image):
    """The (size, resample, box) that `operation` (an ImageOps helper) hands Image.resize."""
    calls = []
    original = Image.Image.resize

    def spy(self, size, resample=None, box=None, reducing_gap=None):
        calls.append((tuple(size), resample, box))
        return original(self, size, resample, box, reducing_gap)

    Image.Image.resize = spy
    try:
        operation(image)
    finally:
        Image.Image.resize = original
    assert len(calls) == 1, calls
    return calls[0]


def float_two_pass(channel, size, resample, box):
    """Pillow's resize of an "F" image, split into its horizontal and vertical passes so
    the intermediate can be clamped to 0...1 as Pillow clamps its 8-bit modes between
    passes (Resample.c). Each call resizes one axis only, so Pillow runs one pass."""
    height = channel.height
    x0, y0, x1, y1 = box if box is not None else (0, 0, channel.width, height)
    middle = channel.resize((size[0], height), resample, box=(x0, 0, x1, height))
    middle = Image.fromarray(np.clip(np.asarray(middle), 0, 1).astype(np.float32))
    result = middle.resize(size, resample, box=(0, y0, size[0], y1))
    return np.clip(np.asarray(result), 0, 1)


def resize_fixtures():
    h, w = 11, 13
    smooth = np.add.outer(np.linspace(0, 180, h), np.linspace(0, 60, w))[:, :, None]
    source = np.clip(smooth + rng.integers(-40, 60, size=(h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(source, "RGB").save(OUT / "resize_input.png")
    cases = []

    def add(name, filter_name, mode, width, height, operation):
        rgb = Image.fromarray(source, "RGB")
        size, resample, box = pillow_resize_call(operation, rgb)
        channels = [float_two_pass(Image.fromarray(source[:, :, c].astype(np.float32) / 255), size, resample, box)
                    for c in range(3)]
        (OUT / f"{name}.f32").write_bytes(np.dstack(channels).astype("<f4").tobytes())
        result8 = np.asarray(operation(rgb))
        (OUT / f"{name}.u8").write_bytes(result8.tobytes())
        cases.append({"name": name, "filter": filter_name, "mode": mode, "width": width, "height": height,
                      "outWidth": result8.shape[1], "outHeight": result8.shape[0]})

    for filter_name, method in FILTERS.items():
        for width, height in [(5, 4), (29, 23), (20, 6), (13, 7)]:
            add(f"resize_{filter_name}_{width}x{height}", filter_name, "stretch", width, height,
                lambda im, s=(width, height), m=method: im.resize(s, m))
    for width, height in [(10, 10), (30, 8)]:
        add(f"resize_fit_{width}x{height}", "lanczos3", "fit", width, height,
            lambda im, s=(width, height): ImageOps.contain(im, s, Image.Resampling.LANCZOS))
    for width, height, method_name in [(10, 6, "lanczos3"), (6, 10, "bicubic"), (26, 22, "bilinear")]:
        add(f"resize_fill_{width}x{height}", method_name, "fill", width, height,
            lambda im, s=(width, height), m=FILTERS[method_name]: ImageOps.fit(im, s, m))
    (OUT / "resize.json").write_text(json.dumps(cases, indent=1) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    png_fixtures()
    text_fixture()
    jpeg_fixtures()
    tiff_fixtures()
    resize_fixtures()
    (OUT / "decode.json").write_text(json.dumps(decode_cases, indent=1) + "\n")


if __name__ == "__main__":
    main()
