"""Writes Tests/Fixtures/rng/randn.json: what torch's CPU generator produces.

Each case seeds `torch.Generator("cpu").manual_seed(seed)` and makes a sequence of calls
(`randn` or `rand`, float32) on that one generator, so state carry-over between calls is
checked too. Small results are stored whole; large ones as a few sampled values plus
float64 sums. Run with the pinned reference venv: `python tools/reference/rng_fixtures.py`.
"""
import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "rng" / "randn.json"
FULL_LIMIT = 512


def summarise(t: torch.Tensor) -> dict:
    flat = t.reshape(-1)
    n = flat.numel()
    entry = {"shape": list(t.shape)}
    if n <= FULL_LIMIT:
        entry["values"] = [float(v) for v in flat]
    else:
        idx = sorted(set(list(range(16)) + list(range(n - 16, n)) + list(range(0, n, max(1, n // 97)))))
        entry["sample_indices"] = idx
        entry["sample_values"] = [float(flat[i]) for i in idx]
        entry["sum"] = float(flat.double().sum())
        entry["sum_squares"] = float((flat.double() ** 2).sum())
    return entry


def run(seed: int, calls: list[tuple[str, list[int]]]) -> dict:
    g = torch.Generator("cpu").manual_seed(seed)
    results = []
    for kind, shape in calls:
        fn = torch.randn if kind == "randn" else torch.rand
        t = fn(shape, generator=g, dtype=torch.float32)
        results.append({"kind": kind, **summarise(t)})
    return {"seed": seed, "calls": results}


def main() -> None:
    seeds = [0, 42, 2**32 + 5, 18446744073709551557]
    shapes = [[1], [7], [15], [16], [17], [100], [1, 4, 8, 8], [2, 4, 64, 64]]
    cases = [run(seed, [("randn", shape)]) for seed in seeds for shape in shapes]
    # Successive calls on one generator: the scalar path caches its second normal value,
    # the vectorised path does not, and both share the MT19937 state.
    cases.append(run(3, [("randn", [3]), ("randn", [3]), ("randn", [16]), ("randn", [1]), ("randn", [1, 4, 8, 8])]))
    cases.append(run(1234, [("randn", [1, 4, 8, 8]), ("randn", [1, 4, 8, 8]), ("randn", [5]), ("randn", [33])]))
    cases.append(run(5, [("rand", [20]), ("rand", [3]), ("randn", [2]), ("rand", [1, 4, 8, 8])]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, indent=None) + "\n")


if __name__ == "__main__":
    main()
