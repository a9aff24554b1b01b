"""Times `overpaint bench` against diffusers + PyTorch f32 on this machine, alternating the two
so that the machine's drift falls on both, and prints each stage's time ratio (ours / torch;
below 1 means faster than torch) for every round.

Run from the repository root, with the reference venv's python:
  /path/to/venv/bin/python tools/reference/compare_torch.py --overpaint .build/release/overpaint \
      --model /tmp/sd15 --rounds 2
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

STAGES = ["UNet, batch 2 (guidance), 64x64 latents", "VAE encode 512x512", "VAE decode 512x512"]


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
    arguments = parser.parse_args()
    torch_bench = [sys.executable, str(pathlib.Path(__file__).with_name("bench_torch.py")),
                   "--threads", str(arguments.threads), "--repetitions", str(arguments.repetitions)]
    ours_bench = [arguments.overpaint, "bench", "--json", "--no-kernels", "--model", arguments.model,
                  "--stages", "unet,vae-encode,vae-decode", "--repetitions", str(arguments.repetitions)]

    ours_environment = dict(os.environ, OVERPAINT_THREADS=str(arguments.threads))

    ratios = {stage: [] for stage in STAGES}
    print("| round | stage | torch s | ours s | ours / torch |")
    print("| --- | --- | --- | --- | --- |")
    for round_number in range(1, arguments.rounds + 1):
        torch_seconds = seconds_by_stage(run_json(torch_bench))
        ours_seconds = seconds_by_stage(run_json(ours_bench, ours_environment))
        for stage in STAGES:
            ratio = ours_seconds[stage] / torch_seconds[stage]
            ratios[stage].append(ratio)
            print(f"| {round_number} | {stage} | {torch_seconds[stage]:.2f} | {ours_seconds[stage]:.2f} | {ratio:.3f} |",
                  flush=True)
    for stage in STAGES:
        print(f"{stage}: median ratio {statistics.median(ratios[stage]):.3f} over {arguments.rounds} rounds")


if __name__ == "__main__":
    main()
