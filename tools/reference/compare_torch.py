"""Times `overpaint bench` against diffusers + PyTorch and against OpenVINO on this machine,
alternating the three within each round so that the machine's drift falls on all of them, and
prints each stage's time ratios (ours / torch, ours / OpenVINO; below 1 means we are faster) for
every round, then their medians.

Run from the repository root, with the reference venv's python (OpenVINO: `pip install openvino`;
without it, or with --no-openvino, only torch is compared):
  /path/to/venv/bin/python tools/reference/compare_torch.py --overpaint .build/release/overpaint \
      --model /tmp/sd15 --rounds 2 [--precision bf16|f16] [--ours-precision f16]
The few-step whole-image rows (torch only), with a tiny decoder from `overpaint models random
--like taesd --out /tmp/taesd`:
  ... compare_torch.py ... --stages img2img-fast --tiny-vae /tmp/taesd --no-openvino
SDXL at 1024x1024 (torch only; `overpaint models random --like sdxl --out /tmp/sdxl`):
  ... compare_torch.py --overpaint .build/release/overpaint --model /tmp/sdxl --family sdxl --no-openvino
"""
import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys

def stage_names(side):
    few_steps = f"img2img {side}x{side}, 4 LCM steps, strength 1, guidance 1"
    strength = 0.6 if side == 1024 else 0.75
    return [f"UNet, batch 2 (guidance), {side // 8}x{side // 8} latents", f"VAE encode {side}x{side}",
            f"VAE decode {side}x{side}", f"img2img {side}x{side}, 20 steps, strength {strength}",
            few_steps + ", full VAE", few_steps + ", tiny decoder"]
HERE = pathlib.Path(__file__).parent


def run_json(command, environment=None):
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    return json.loads(output[output.index("{"):])


def seconds_by_stage(report):
    return {stage["name"]: stage["seconds"] for stage in report["stages"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--overpaint", required=True, help="the overpaint binary (a release build)")
    parser.add_argument("--model", required=True, help="an SD 1.5 folder, e.g. from `overpaint models random --like sd15`")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=["f32", "bf16", "f16"], default="f32",
                        help="the peers' precision, and ours unless --ours-precision says otherwise")
    parser.add_argument("--ours-precision", choices=["f32", "bf16", "f16"],
                        help="ours in another precision than the peers (f16 against their bf16, say)")
    parser.add_argument("--no-openvino", action="store_true", help="compare with torch only")
    parser.add_argument("--family", choices=["sd15", "sdxl"], default="sd15", help="sdxl: SDXL 1.0 at 1024x1024")
    parser.add_argument("--stages", default="unet,vae-encode,vae-decode", help="overpaint bench's stage names")
    parser.add_argument("--tiny-vae", help="an AutoencoderTiny folder for the img2img-fast stage's tiny-decoder row")
    arguments = parser.parse_args()
    side = 1024 if arguments.family == "sdxl" else 512
    prefixes = {"unet": "UNet", "vae-encode": "VAE encode", "vae-decode": "VAE decode",
                "img2img": f"img2img {side}x{side}, 20 steps", "img2img-fast": f"img2img {side}x{side}, 4 LCM"}
    chosen = [prefixes[stage] for stage in arguments.stages.split(",")]
    STAGES = [name for name in stage_names(side) if any(name.startswith(prefix) for prefix in chosen)
              and (arguments.tiny_vae or not name.endswith("tiny decoder"))]
    common = ["--threads", str(arguments.threads), "--repetitions", str(arguments.repetitions)]
    peers = {"torch": [sys.executable, str(HERE / "bench_torch.py"), *common, "--family", arguments.family,
                       "--stages", ",".join(chosen), "--model", arguments.model,
                       "--dtype", {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[arguments.precision]]}
    # bench_openvino.py has SD 1.5's stages only
    if arguments.family == "sd15" and not arguments.no_openvino and importlib.util.find_spec("openvino") is not None:
        peers["OpenVINO"] = [sys.executable, str(HERE / "bench_openvino.py"), *common, "--precision", arguments.precision]
    ours_bench = [arguments.overpaint, "bench", "--json", "--no-kernels", "--model", arguments.model,
                  "--stages", arguments.stages, "--size", str(side), "--repetitions", str(arguments.repetitions),
                  "--pipeline-runs", str(arguments.repetitions), "--precision", arguments.ours_precision or arguments.precision] + (["--tiny-vae", arguments.tiny_vae] if arguments.tiny_vae else [])
    ours_environment = dict(os.environ, OVERPAINT_THREADS=str(arguments.threads))

    ratios = {(peer, stage): [] for peer in peers for stage in STAGES}
    names = list(peers)
    print(f"precision {arguments.precision} (ours {arguments.ours_precision or arguments.precision}), {arguments.threads} threads")
    print("| round | stage | " + " | ".join(f"{name} s" for name in names) + " | ours s | "
          + " | ".join(f"ours / {name}" for name in names) + " |")
    print("|" + " --- |" * (3 + 2 * len(names)))
    for round_number in range(1, arguments.rounds + 1):
        peer_seconds = {name: seconds_by_stage(run_json(command)) for name, command in peers.items()}
        ours_seconds = seconds_by_stage(run_json(ours_bench, ours_environment))
        for stage in STAGES:
            # OpenVINO has no whole-image rows
            timed_by = [name for name in names if stage in peer_seconds[name]]
            for name in timed_by:
                ratios[(name, stage)].append(ours_seconds[stage] / peer_seconds[name][stage])
            print(f"| {round_number} | {stage} | "
                  + " | ".join(f"{peer_seconds[name][stage]:.2f}" if name in timed_by else "-" for name in names)
                  + f" | {ours_seconds[stage]:.2f} | "
                  + " | ".join(f"{ratios[(name, stage)][-1]:.3f}" if name in timed_by else "-" for name in names)
                  + " |", flush=True)
    for stage in STAGES:
        medians = ", ".join(f"ours / {name} {statistics.median(ratios[(name, stage)]):.3f}"
                            for name in names if ratios[(name, stage)])
        print(f"{stage}: median {medians} over {arguments.rounds} rounds")


if __name__ == "__main__":
    main()
