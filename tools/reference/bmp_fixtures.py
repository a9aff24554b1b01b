"""BMP fixtures for Imaging's stb_image decoder (Tests/Fixtures/codecs/bmp_*).

Pictures are drawn with numpy. Pillow writes the layouts it writes (24-bit, 8-bit palette and
gray, 1-bit, 32-bit with alpha); a minimal writer here builds the others, byte by byte as
Microsoft's BITMAPINFOHEADER / BITMAPV4HEADER / BITMAPV5HEADER and OS/2's BITMAPCOREHEADER lay
them out: 4-bit palette, 16-bit 5-5-5 and 5-6-5 (BI_BITFIELDS), 32-bit XRGB, a V4 header with an
alpha mask, top-down rows, the OS/2 1.x (24-bit) and V5 headers. Expected samples are the drawn arrays, as
the decoder delivers them: palette images as RGB, 32-bit ones as RGBA (an all-zero fourth byte,
XRGB's padding, read as opaque), 5- and 6-bit fields widened by repeating their high bits.
Pillow reads every file back to the same samples (it scales 5- and 6-bit fields by rounding
down instead, at most 1 level away, and reads a BI_RGB file's fourth byte as padding even where
it wrote alpha there: checked too).

Writes bmp_*.bmp, bmp_*.expected (raw uint8) and bmp_decode.json, in decode.json's format.
Deterministic: run `python tools/reference/bmp_fixtures.py` from the package root.
"""
import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "codecs"
rng = np.random.default_rng(20261207)
WIDTH, HEIGHT = 7, 5  # an odd width, so that rows carry padding
cases = []


def record(name, expected, pillow_reads=None, pillow_tolerance=0):
    """Writes the expected samples and checks that Pillow reads the file to `pillow_reads`
    (by default the expected samples), within `pillow_tolerance` levels."""
    stem = Path(name).stem
    (OUT / f"{stem}.expected").write_bytes(np.ascontiguousarray(expected, np.uint8).tobytes())
    height, width, channels = expected.shape
    cases.append({"file": name, "expected": f"{stem}.expected", "width": width, "height": height,
                  "channels": channels, "bitDepth": 8, "tolerance": 0})
    pillow_reads = expected if pillow_reads is None else pillow_reads
    mode = "RGBA" if pillow_reads.shape[2] == 4 else "RGB"
    pillow = np.asarray(Image.open(OUT / name).convert(mode), np.int16)
    assert np.abs(pillow - pillow_reads.astype(np.int16)).max() <= pillow_tolerance, name


def rows(pixels, bottom_up=True):
    """Rows padded to 4 bytes, bottom row first unless top-down."""
    lines = [bytes(line) + b"\0" * (-len(bytes(line)) % 4) for line in pixels]
    return b"".join(reversed(lines) if bottom_up else lines)


def bmp(info_header, pixel_data, palette=b"", masks=b""):
    """File header, the info header, masks and palette, then the pixels at their offset."""
    offset = 14 + len(info_header) + len(masks) + len(palette)
    return (b"BM" + struct.pack("<IHHI", offset + len(pixel_data), 0, 0, offset) + info_header + masks + palette
            + pixel_data)


def info_header(width, height, bits, compression=0, size=40, colours=0):
    """BITMAPINFOHEADER (40 bytes), or its first 40 bytes when `size` is a V4's 108 or V5's 124."""
    return struct.pack("<IiiHHIIiiII", size, width, height, 1, bits, compression, 0, 2835, 2835, colours, 0)


def v4_fields(masks):
    """A V4 header's masks (R, G, B, A), colour space 'sRGB' and its unused endpoints and gammas."""
    return struct.pack("<IIII", *masks) + b"BGRs" + b"\0" * 48


def picture():
    return rng.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)


def pillow_fixtures():
    rgb = picture()
    Image.fromarray(rgb, "RGB").save(OUT / "bmp_rgb24.bmp")
    record("bmp_rgb24.bmp", rgb)

    palette = rng.integers(0, 256, size=(256, 3), dtype=np.uint8)
    indices = rng.integers(0, 256, size=(HEIGHT, WIDTH), dtype=np.uint8)
    indices[0, 0] = 255
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.flatten().tolist())
    image.save(OUT / "bmp_palette8.bmp")
    record("bmp_palette8.bmp", palette[indices])

    gray = rng.integers(0, 256, size=(HEIGHT, WIDTH), dtype=np.uint8)
    Image.fromarray(gray, "L").save(OUT / "bmp_gray8.bmp")  # a 256-entry gray palette
    record("bmp_gray8.bmp", np.repeat(gray[:, :, None], 3, axis=2))

    bits = rng.integers(0, 2, size=(HEIGHT, 11), dtype=np.uint8).astype(bool)
    Image.fromarray(bits).save(OUT / "bmp_1bit.bmp")
    record("bmp_1bit.bmp", np.repeat(np.where(bits, 255, 0).astype(np.uint8)[:, :, None], 3, axis=2))

    rgba = np.dstack([picture(), rng.integers(0, 256, size=(HEIGHT, WIDTH), dtype=np.uint8)])
    # BI_RGB with the alpha in the fourth byte, which Pillow writes but reads back as padding.
    Image.fromarray(rgba, "RGBA").save(OUT / "bmp_rgba32.bmp")
    record("bmp_rgba32.bmp", rgba, pillow_reads=rgba[..., :3])


def widen(value, bits):
    """stb_image's widening of a `bits`-bit field to 8 bits: its bits repeated from the top."""
    value = value.astype(np.uint32) << (8 - bits)
    result = np.zeros_like(value)
    for shift in range(0, 8, bits):
        result |= value >> shift
    return result.astype(np.uint8)


def written_fixtures():
    palette = rng.integers(0, 256, size=(16, 3), dtype=np.uint8)
    indices = rng.integers(0, 16, size=(HEIGHT, WIDTH), dtype=np.uint8)
    packed = [bytes((row[x] << 4) | (row[x + 1] if x + 1 < WIDTH else 0) for x in range(0, WIDTH, 2)) for row in indices]
    quads = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    data = bmp(info_header(WIDTH, HEIGHT, 4, colours=16), rows(packed), palette=quads)
    (OUT / "bmp_palette4.bmp").write_bytes(data)
    record("bmp_palette4.bmp", palette[indices])

    fives = rng.integers(0, 32, size=(HEIGHT, WIDTH, 3), dtype=np.uint16)
    words = fives[..., 0] << 10 | fives[..., 1] << 5 | fives[..., 2]
    data = bmp(info_header(WIDTH, HEIGHT, 16), rows(line.astype("<u2").tobytes() for line in words))
    (OUT / "bmp_rgb555.bmp").write_bytes(data)
    record("bmp_rgb555.bmp", widen(fives, 5), pillow_tolerance=1)

    red, blue = rng.integers(0, 32, size=(2, HEIGHT, WIDTH), dtype=np.uint16)
    green = rng.integers(0, 64, size=(HEIGHT, WIDTH), dtype=np.uint16)
    words = red << 11 | green << 5 | blue
    masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    data = bmp(info_header(WIDTH, HEIGHT, 16, compression=3), rows(line.astype("<u2").tobytes() for line in words),
               masks=masks)
    (OUT / "bmp_rgb565.bmp").write_bytes(data)
    record("bmp_rgb565.bmp", np.dstack([widen(red, 5), widen(green, 6), widen(blue, 5)]), pillow_tolerance=1)

    rgb = picture()
    xrgb = [b"".join(bytes([b, g, r, 0]) for r, g, b in line) for line in rgb]
    (OUT / "bmp_xrgb32.bmp").write_bytes(bmp(info_header(WIDTH, HEIGHT, 32), rows(xrgb)))
    record("bmp_xrgb32.bmp", np.dstack([rgb, np.full((HEIGHT, WIDTH), 255, np.uint8)]), pillow_reads=rgb)

    # V4, BI_BITFIELDS with an alpha mask in an unusual order (RGBA in memory), rows top-down.
    rgba = np.dstack([picture(), rng.integers(0, 256, size=(HEIGHT, WIDTH), dtype=np.uint8)])
    header = info_header(WIDTH, -HEIGHT, 32, compression=3, size=108) + v4_fields(
        (0x000000FF, 0x0000FF00, 0x00FF0000, 0xFF000000))
    data = bmp(header, rows((line.tobytes() for line in rgba), bottom_up=False))
    (OUT / "bmp_v4_rgba_topdown.bmp").write_bytes(data)
    record("bmp_v4_rgba_topdown.bmp", rgba)

    rgb = picture()
    bgr = [line[:, ::-1].tobytes() for line in rgb]
    header = info_header(WIDTH, HEIGHT, 24, size=124) + v4_fields((0, 0, 0, 0)) + struct.pack("<IIII", 4, 0, 0, 0)
    (OUT / "bmp_v5_rgb24.bmp").write_bytes(bmp(header, rows(bgr)))
    record("bmp_v5_rgb24.bmp", rgb)

    # OS/2 1.x: 16-bit sizes (its palette images are refused, see Sources/CCodecs/ccodecs_bmp.c).
    rgb = picture()
    header = struct.pack("<IHHHH", 12, WIDTH, HEIGHT, 1, 24)
    (OUT / "bmp_os2_rgb24.bmp").write_bytes(bmp(header, rows(line[:, ::-1].tobytes() for line in rgb)))
    record("bmp_os2_rgb24.bmp", rgb)


def main():
    for old in OUT.glob("bmp_*"):
        old.unlink()
    pillow_fixtures()
    written_fixtures()
    (OUT / "bmp_decode.json").write_text(json.dumps(cases, indent=1) + "\n")
    print(f"{len(cases)} BMP fixtures")


if __name__ == "__main__":
    main()
