"""Where the fixture scripts write, and the forms their files take.

The scripts run as `python tools/reference/<script>.py` from the repository root, so this folder
is on sys.path and they import this module (and tiny_models.py) by name.
"""
import json
from pathlib import Path

import numpy as np
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"


def write_json(path: Path, value):
    """`value` as JSON indented by 2 with sorted keys and a final newline (as diffusers writes its
    configs), so a file does not change with the order a dict was built in."""
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_tensors(tensors: dict, path: Path):
    """`tensors` as one safetensors file (safetensors wants them contiguous)."""
    save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, path)


def save_output(image, path: Path):
    """A pipeline's output image, saved, with its size and pixel statistics printed: a flat or
    mostly saturated image would make a weak parity case."""
    image.save(path)
    pixels = np.asarray(image).astype(np.float64)
    print(f"{path.stem}: {image.size} mean {pixels.mean():.1f} std {pixels.std():.1f} "
          f"saturated {(np.isin(pixels, (0, 255))).mean():.2f}")
