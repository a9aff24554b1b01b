"""HEIC and AVIF fixtures for Imaging's libheif decoder (Tests/Fixtures/codecs/heif_*, avif_*).

Sources are drawn with numpy and written by Pillow: heif_source.png (RGB),
heif_source_rgba.png (RGBA), heif_source16.png (16-bit RGB, by OpenCV), heif_camera.jpg (a
camera's JPEG with EXIF: Make, Model, Orientation 6, and an ICC profile; stored 64x48, shown
48x64), and a 1200x1000 picture that low quality keeps to a few KB (heif_large.heic,
avif_large.avif, for the decoder's memory). heif-enc (Debian's libheif-examples: x265 for HEIC,
libaom for AVIF) encodes each, carrying the JPEG's EXIF and profile.

heif-enc 1.15 leaves a JPEG's EXIF Orientation out of the HEIF transforms, so the camera
files get here what a phone writes: an irot property on the primary item (270 degrees
anti-clockwise, EXIF Orientation 6), the stored pixels unrotated, the EXIF still saying 6.

Only regenerating needs heif-enc (`apt-get install libheif-examples`); the tests read the
committed files. Run `python tools/reference/heif_fixtures.py` from the package root.
"""
import struct
import subprocess
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "codecs"
WIDTH, HEIGHT = 64, 48


def picture(width, height, maximum=255, ripple=0.06):
    """Smooth gradients, a soft disc and a gentle ripple: what a lossy codec keeps well."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    disc = np.clip(1.2 - np.hypot(x - width * 0.62, y - height * 0.45) / (height * 0.3), 0, 1)
    ripple = ripple * np.sin(x / 3.1) * np.cos(y / 4.3)
    red = 0.15 + 0.6 * x / width + 0.2 * disc + ripple
    green = 0.2 + 0.5 * y / height + 0.25 * disc
    blue = 0.7 - 0.4 * (x + y) / (width + height) + 0.1 * disc - ripple
    rgb = np.stack([red, green, blue], axis=-1)
    return np.clip(np.rint(rgb * maximum), 0, maximum)


def alpha(width, height):
    """Opaque on the left, fading to clear on the right, with an opaque disc."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    fade = 1 - x / (width - 1)
    disc = np.hypot(x - width * 0.7, y - height * 0.5) < height * 0.25
    return np.rint(np.where(disc, 1.0, fade) * 255).astype(np.uint8)


def camera_exif():
    exif = Image.Exif()
    exif[0x010F] = "Overpaint Test Camera"  # Make
    exif[0x0110] = "TC-1"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
    return exif.tobytes()


def heif_enc(source, target, *options, quality=90):
    subprocess.run(["heif-enc", "-q", str(quality), *options, "-o", str(target), str(source)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- ISO-BMFF editing: enough to add one property to the primary item


def children(data, start, end):
    """(type, start, end) of the boxes in data[start:end]; 32-bit sizes, as heif-enc writes."""
    boxes = []
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        boxes.append((kind.decode("latin-1"), start, start + size))
        start += size
    return boxes


def find(boxes, kind):
    return next(box for box in boxes if box[0] == kind)


def box(kind, payload):
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def with_association(ipma, item, index):
    """The ipma box's payload with property `index` (1-based, essential) added to `item`."""
    version, wide = ipma[0], int.from_bytes(ipma[1:4], "big") & 1
    id_format = ">I" if version >= 1 else ">H"
    id_size = struct.calcsize(id_format)
    count = struct.unpack(">I", ipma[4:8])[0]
    offset, entries = 8, b""
    for _ in range(count):
        item_id = struct.unpack(id_format, ipma[offset:offset + id_size])[0]
        associations = ipma[offset + id_size]
        offset += id_size + 1
        existing = ipma[offset:offset + associations * (2 if wide else 1)]
        offset += len(existing)
        if item_id == item:
            essential = struct.pack(">H", 0x8000 | index) if wide else bytes([0x80 | index])
            entries += struct.pack(id_format, item_id) + bytes([associations + 1]) + existing + essential
        else:
            entries += struct.pack(id_format, item_id) + bytes([associations]) + existing
    return ipma[:8] + entries


def shift_file_offsets(iloc, delta):
    """iloc payload with every file-relative (construction method 0) offset moved by `delta`."""
    data = bytearray(iloc)
    version = data[0]
    offset_size, length_size = data[4] >> 4, data[4] & 15
    base_offset_size, index_size = data[5] >> 4, (data[5] & 15 if version in (1, 2) else 0)
    position = 6
    count_size = 2 if version < 2 else 4
    count = int.from_bytes(data[position:position + count_size], "big")
    position += count_size
    for _ in range(count):
        position += count_size  # item_ID
        method = 0
        if version in (1, 2):
            method = int.from_bytes(data[position:position + 2], "big") & 15
            position += 2
        position += 2  # data_reference_index

        def shift(at, size):
            if method == 0 and size > 0:
                value = int.from_bytes(data[at:at + size], "big") + delta
                data[at:at + size] = value.to_bytes(size, "big")

        base_at = position
        position += base_offset_size
        extents = int.from_bytes(data[position:position + 2], "big")
        position += 2
        if base_offset_size:
            shift(base_at, base_offset_size)
        for _ in range(extents):
            position += index_size
            if not base_offset_size:
                shift(position, offset_size)
            position += offset_size + length_size
    return bytes(data)


def add_rotation(path, anticlockwise_degrees):
    """Gives the primary item of the HEIF at `path` an irot property, as the last of its properties."""
    data = path.read_bytes()
    top = children(data, 0, len(data))
    _, meta_start, meta_end = find(top, "meta")
    assert all(start > meta_start for kind, start, _ in top if kind == "mdat"), "mdat must follow meta"
    meta_boxes = children(data, meta_start + 12, meta_end)
    _, pitm_start, _ = find(meta_boxes, "pitm")
    assert data[pitm_start + 8] == 0, "pitm version 0"
    primary = struct.unpack(">H", data[pitm_start + 12:pitm_start + 14])[0]
    _, iprp_start, iprp_end = find(meta_boxes, "iprp")
    iprp_boxes = children(data, iprp_start + 8, iprp_end)
    _, ipco_start, ipco_end = find(iprp_boxes, "ipco")
    properties = children(data, ipco_start + 8, ipco_end)
    irot = box("irot", bytes([anticlockwise_degrees // 90]))
    ipco = box("ipco", data[ipco_start + 8:ipco_end] + irot)
    _, ipma_start, ipma_end = find(iprp_boxes, "ipma")
    ipma = box("ipma", with_association(data[ipma_start + 8:ipma_end], primary, len(properties) + 1))
    iprp = box("iprp", b"".join(ipco if kind == "ipco" else ipma if kind == "ipma" else data[start:end]
                                for kind, start, end in iprp_boxes))
    delta = len(iprp) - (iprp_end - iprp_start)
    meta_payload = b""
    for kind, start, end in meta_boxes:
        if kind == "iprp":
            meta_payload += iprp
        elif kind == "iloc":
            meta_payload += box("iloc", shift_file_offsets(data[start + 8:end], delta))
        else:
            meta_payload += data[start:end]
    meta = box("meta", data[meta_start + 8:meta_start + 12] + meta_payload)
    path.write_bytes(data[:meta_start] + meta + data[meta_end:])


def main():
    rgb = picture(WIDTH, HEIGHT).astype(np.uint8)
    Image.fromarray(rgb).save(OUT / "heif_source.png")
    rgba = np.dstack([rgb, alpha(WIDTH, HEIGHT)])
    Image.fromarray(rgba, "RGBA").save(OUT / "heif_source_rgba.png")
    # Pillow writes no 16-bit RGB; OpenCV does, from BGR.
    deep = picture(WIDTH, HEIGHT, maximum=65535).astype(np.uint16)
    cv2.imwrite(str(OUT / "heif_source16.png"), cv2.cvtColor(deep, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rgb).save(OUT / "heif_camera.jpg", quality=95, exif=camera_exif(), icc_profile=profile)

    # 1200x1000 without the ripple, for the decoder's memory: a few KB at quality 30.
    large = OUT / "heif_large_source.png"
    Image.fromarray(picture(1200, 1000, ripple=0).astype(np.uint8)).save(large)

    for suffix, options in [("heic", []), ("avif", ["-A"])]:
        stem = "heif" if suffix == "heic" else "avif"
        heif_enc(OUT / "heif_source.png", OUT / f"{stem}_rgb.{suffix}", *options)
        heif_enc(OUT / "heif_source_rgba.png", OUT / f"{stem}_rgba.{suffix}", *options)
        # Debian's libaom 3.6 asserts on 10-bit 4:2:0 and 4:4:4 from heif-enc; 4:2:2 encodes.
        deep_options = ["-p", "chroma=422"] if suffix == "avif" else []
        heif_enc(OUT / "heif_source16.png", OUT / f"{stem}_rgb10.{suffix}", "-b", "10", *deep_options, *options)
        camera = OUT / f"{stem}_camera.{suffix}"
        heif_enc(OUT / "heif_camera.jpg", camera, *options)
        add_rotation(camera, 270)
        heif_enc(large, OUT / f"{stem}_large.{suffix}", *options, quality=30)
    large.unlink()  # 128 KB the tests do not need


if __name__ == "__main__":
    main()
