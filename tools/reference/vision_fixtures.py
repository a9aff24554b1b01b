"""Parity fixtures for Overpaint's model-free vision code (Canny, Telea, mask blur).

Writes uint8 little-endian C-order .npy files into Tests/Fixtures/vision/.
Binary maps (edges, masks) are stored bit-packed with np.packbits(axis=None)
to keep the fixtures small; the tests unpack them.

Images are skimage.data photos (public domain / CC0, see skimage/data/_fetchers.py):
astronaut (NASA), chelsea (Stefan van der Walt), coffee (Rachel Michetti), rocket (NASA/SpaceX).

Run: /tmp/ref/bin/python tools/reference/vision_fixtures.py
Deterministic: the only randomness is numpy's default_rng with fixed seeds.
"""

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFilter
from skimage import data

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "vision"

# (name, loader, output width)
PHOTOS = [
    ("astronaut", data.astronaut, 128),
    ("chelsea", data.chelsea, 144),
    ("coffee", data.coffee, 144),
    ("rocket", data.rocket, 112),
]

CANNY_THRESHOLDS = [(100, 200), (50, 150), (0, 0), (200, 80), (30, 60)]


def save(name, array):
    array = np.ascontiguousarray(array)
    assert array.dtype == np.uint8
    np.save(OUT / f"{name}.npy", array)


def save_bits(name, binary):
    """Bit-packed binary map: shape (h*w+7)//8 bytes, MSB first (np.packbits)."""
    save(name, np.packbits((binary != 0).astype(np.uint8), axis=None))


def photo(loader, width):
    rgb = loader()
    h, w = rgb.shape[:2]
    height = round(h * width / w)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def blob_mask(h, w, seed, count, scale):
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    for _ in range(count):
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        ax, ay = int(rng.integers(2, scale)), int(rng.integers(2, scale))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(mask, (cx, cy), (ax, ay), angle, 0, 360, 255, -1)
    return mask


def canny_fixtures(photos):
    for name, rgb in photos.items():
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        save(f"{name}_rgb", rgb)
        save(f"{name}_gray", gray)
        for low, high in CANNY_THRESHOLDS:
            # cv2.Canny(img, low, high): apertureSize=3, L2gradient=False
            save_bits(f"canny_{name}_rgb_{low}_{high}", cv2.Canny(rgb, low, high))
            save_bits(f"canny_{name}_gray_{low}_{high}", cv2.Canny(gray, low, high))


def telea_fixtures(photos):
    cases = []
    h, w = photos["chelsea"].shape[:2]
    cases.append(("chelsea", "blobs", blob_mask(h, w, 1, 6, 12), 3))
    h, w = photos["astronaut"].shape[:2]
    cases.append(("astronaut", "blobs", blob_mask(h, w, 2, 5, 14), 5))
    h, w = photos["coffee"].shape[:2]
    border = blob_mask(h, w, 3, 3, 10)
    border[:6, :] = 255  # touches the top border along its whole width
    border[40:60, w - 4:] = 255  # and the right border
    border[h - 3:, 10:30] = 255  # and the bottom border
    border[20:30, :2] = 255  # and the left border
    cases.append(("coffee", "border", border, 3))
    h, w = photos["rocket"].shape[:2]
    nearly_all = np.full((h, w), 255, np.uint8)
    nearly_all[h // 2 - 4:h // 2 + 4, w // 2 - 4:w // 2 + 4] = 0  # only a small known island
    cases.append(("rocket", "nearlyall", nearly_all, 3))
    for name, kind, mask, radius in cases:
        rgb = photos[name]
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        save_bits(f"telea_{name}_{kind}_mask", mask)
        # cv2.inpaint(img, mask, inpaintRadius, cv2.INPAINT_TELEA), 8-bit, 3 and 1 channels
        save(f"telea_{name}_{kind}_r{radius}_rgb", cv2.inpaint(rgb, mask, radius, cv2.INPAINT_TELEA))
        save(f"telea_{name}_{kind}_r{radius}_gray", cv2.inpaint(gray, mask, radius, cv2.INPAINT_TELEA))


def blur_fixtures():
    h, w = 96, 128
    mask = blob_mask(h, w, 7, 4, 20)
    mask[:, :8] = 255  # a hard edge on the image border exercises the edge clamp
    save("blur_mask", mask)
    for radius in (1, 4, 11):
        # diffusers VaeImageProcessor.blur and A1111 (older) mask_blur: ImageFilter.GaussianBlur(radius)
        blurred = Image.fromarray(mask, "L").filter(ImageFilter.GaussianBlur(radius))
        save(f"blur_mask_r{radius}", np.asarray(blurred))
    # Mask.grown: grey dilation / erosion by a disc {dx^2 + dy^2 <= r^2}; OpenCV's default
    # border for dilate/erode ignores pixels beyond the image, as Mask.grown does.
    soft = np.asarray(Image.fromarray(mask, "L").filter(ImageFilter.GaussianBlur(4)))
    save("grow_soft_r5", cv2.dilate(soft, disc(5)))
    save_bits("grow_binary_r7", cv2.dilate(mask, disc(7)))
    save_bits("shrink_binary_r3", cv2.erode(mask, disc(3)))


def disc(radius):
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.npy"):
        old.unlink()
    photos = {name: photo(loader, width) for name, loader, width in PHOTOS}
    canny_fixtures(photos)
    telea_fixtures(photos)
    blur_fixtures()
    total = sum(p.stat().st_size for p in OUT.glob("*.npy"))
    print(f"wrote {len(list(OUT.glob('*.npy')))} files, {total} bytes, cv2 {cv2.__version__}")


if __name__ == "__main__":
    main()
