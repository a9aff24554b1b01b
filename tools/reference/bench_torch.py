"""The same-machine reference for `overpaint bench`: diffusers + PyTorch f32 (and bf16 where
the CPU has fast bf16) on SD 1.5's real architecture with random weights, at 512x512.

Prints seconds (median of --repetitions after a warm-up), GFLOP/s and the fraction of the
same-run torch sgemm rate at the shape `overpaint bench` uses as its reference
(M=4096 N=320 K=2880). Run: /path/to/venv/bin/python tools/reference/bench_torch.py
"""
import argparse
import json
import resource
import statistics
import time

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode


def sd15_unet():
    return UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)


def sd15_vae():
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)


def timed(body, repetitions):
    body()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def flops_of(body):
    counter = FlopCounterMode(display=False)
    with counter:
        body()
    return counter.get_total_flops()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    torch.manual_seed(0)
    dtype = getattr(torch, arguments.dtype)

    a = torch.randn(4096, 2880, dtype=dtype)
    b = torch.randn(2880, 320, dtype=dtype)
    sgemm_seconds = timed(lambda: a @ b, 10)
    sgemm_rate = 2 * 4096 * 2880 * 320 / sgemm_seconds / 1e9

    results = []
    with torch.inference_mode():
        unet = sd15_unet().to(dtype).eval()
        latents = torch.randn(2, 4, 64, 64, dtype=dtype)
        states = torch.randn(2, 77, 768, dtype=dtype)
        step = lambda: unet(latents, 999, encoder_hidden_states=states)
        results.append(("UNet, batch 2 (guidance), 64x64 latents", step))
        vae = sd15_vae().to(dtype).eval()
        pixels = torch.randn(1, 3, 512, 512, dtype=dtype)
        latent = torch.randn(1, 4, 64, 64, dtype=dtype)
        results.append(("VAE encode 512x512", lambda: vae.encode(pixels).latent_dist.mean))
        results.append(("VAE decode 512x512", lambda: vae.decode(latent).sample))
        report = {"torch": torch.__version__, "threads": arguments.threads, "dtype": arguments.dtype,
                  "sgemm_gflops": sgemm_rate, "stages": []}
        for name, body in results:
            flops = flops_of(body)
            seconds = timed(body, arguments.repetitions)
            rate = flops / seconds / 1e9
            report["stages"].append({"name": name, "seconds": seconds, "gflop": flops / 1e9, "gflops": rate,
                                     "fraction_of_sgemm": rate / sgemm_rate})
    report["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
