"""The same-machine reference for `overpaint bench`: diffusers + PyTorch f32 (and bf16 where
the CPU has fast bf16) on SD 1.5's real architecture with random weights, at 512x512, or with
--family sdxl on SDXL 1.0 base's (sdxl_fixtures.py's configs), at 1024x1024: the UNet with its
added conditions (pooled embeddings, time ids), the SDXL VAE.

Prints seconds (median of --repetitions after a warm-up), GFLOP/s and the fraction of the
same-run torch sgemm rate at the shape `overpaint bench` uses as its reference
(M=4096 N=320 K=2880). Run: /path/to/venv/bin/python tools/reference/bench_torch.py

With --model (a diffusers folder of the family, e.g. `overpaint models random --like sd15`) the
whole-image rows run too, as `overpaint bench`'s img2img and img2img-fast stages do, on that
folder's img2img pipeline: 20 steps at strength 0.75 (SDXL: 0.6) with its own scheduler and
guidance 7.5; and for SD 1.x with LCMScheduler, 4 steps at strength 1 and guidance 1 (one UNet
evaluation a step), first with the model's VAE, then with a random AutoencoderTiny of TAESD's
defaults decoding (the VAE still encodes: `vae_encoder: full`).
"""
import argparse
import json
import resource
import statistics
import time

import numpy
import torch
from diffusers import (AutoencoderKL, AutoencoderTiny, LCMScheduler, StableDiffusionImg2ImgPipeline,
                       StableDiffusionXLImg2ImgPipeline, UNet2DConditionModel)
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode


def sd15_unet():
    return UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)


def sd15_vae():
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)


def sdxl_unet():
    from sdxl_fixtures import SDXL_UNET
    return UNet2DConditionModel(**SDXL_UNET)


def sdxl_vae():
    from sdxl_fixtures import SDXL_VAE
    return AutoencoderKL(**SDXL_VAE)


def whole_image_rows(model, side, dtype, sdxl):
    """(name, body) of the whole img2img rows: 20 guided steps, then (SD 1.x) 4 LCM steps with the
    model's VAE and with a tiny decoder."""
    pipeline_class = StableDiffusionXLImg2ImgPipeline if sdxl else StableDiffusionImg2ImgPipeline
    extra = {} if sdxl else {"safety_checker": None, "requires_safety_checker": False}
    pipe = pipeline_class.from_pretrained(model, torch_dtype=dtype, **extra)
    pipe.set_progress_bar_config(disable=True)
    photo = Image.fromarray((numpy.arange(side * side * 3).reshape(side, side, 3) * 7919 % 256).astype(numpy.uint8))
    prompt = "a photograph of an astronaut riding a horse"
    strength = 0.6 if sdxl else 0.75

    def edit(steps, strength, guidance, output_type="pil"):
        return pipe(prompt=prompt, image=photo, strength=strength, num_inference_steps=steps, guidance_scale=guidance,
                    generator=torch.Generator("cpu").manual_seed(0), output_type=output_type).images

    rows = [(f"img2img {side}x{side}, 20 steps, strength {strength}", lambda: edit(20, strength, 7.5))]
    if sdxl:
        return rows
    own_scheduler = pipe.scheduler
    lcm = LCMScheduler.from_config(own_scheduler.config)
    tiny = AutoencoderTiny().to(dtype).eval()

    def few_steps(output_type="pil"):
        pipe.scheduler = lcm
        try:
            return edit(4, 1.0, 1.0, output_type)
        finally:
            pipe.scheduler = own_scheduler

    def tiny_decoded():
        latents = few_steps("latent")
        return pipe.image_processor.postprocess(tiny.decode(latents / tiny.config.scaling_factor).sample)

    name = f"img2img {side}x{side}, 4 LCM steps, strength 1, guidance 1"
    return rows + [(name + ", full VAE", few_steps), (name + ", tiny decoder", tiny_decoded)]


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
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--family", choices=["sd15", "sdxl"], default="sd15")
    parser.add_argument("--stages", default="", help="comma-separated name prefixes (UNet, VAE encode, VAE decode, img2img); all by default")
    parser.add_argument("--model", help="a diffusers folder of the family: adds the whole img2img rows")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    torch.manual_seed(0)
    dtype = getattr(torch, arguments.dtype)

    a = torch.randn(4096, 2880, dtype=dtype)
    b = torch.randn(2880, 320, dtype=dtype)
    sgemm_seconds = timed(lambda: a @ b, 10)
    sgemm_rate = 2 * 4096 * 2880 * 320 / sgemm_seconds / 1e9

    sdxl = arguments.family == "sdxl"
    side = 1024 if sdxl else 512
    latent_side = side // 8
    results = []
    with torch.inference_mode():
        unet = (sdxl_unet() if sdxl else sd15_unet()).to(dtype).eval()
        latents = torch.randn(2, 4, latent_side, latent_side, dtype=dtype)
        states = torch.randn(2, 77, 2048 if sdxl else 768, dtype=dtype)
        added = {"text_embeds": torch.randn(2, 1280, dtype=dtype),
                 "time_ids": torch.tensor([[side, side, 0, 0, side, side]] * 2, dtype=dtype)} if sdxl else None
        step = lambda: unet(latents, 999, encoder_hidden_states=states, added_cond_kwargs=added)
        results.append((f"UNet, batch 2 (guidance), {latent_side}x{latent_side} latents", step))
        vae = (sdxl_vae() if sdxl else sd15_vae()).to(dtype).eval()
        pixels = torch.randn(1, 3, side, side, dtype=dtype)
        latent = torch.randn(1, 4, latent_side, latent_side, dtype=dtype)
        results.append((f"VAE encode {side}x{side}", lambda: vae.encode(pixels).latent_dist.mean))
        results.append((f"VAE decode {side}x{side}", lambda: vae.decode(latent).sample))
        if arguments.model and (not arguments.stages or "img2img" in arguments.stages):
            results += whole_image_rows(arguments.model, side, dtype, sdxl)
        results = [(name, body) for name, body in results if not arguments.stages or any(
            name.startswith(prefix) for prefix in arguments.stages.split(","))]
        report = {"torch": torch.__version__, "threads": arguments.threads, "dtype": arguments.dtype,
                  "sgemm_gflops": sgemm_rate, "stages": []}
        for name, body in results:
            seconds = timed(body, arguments.repetitions)
            row = {"name": name, "seconds": seconds}
            # a whole image's FLOPs would cost another run of it; its seconds are what is compared
            if not name.startswith("img2img"):
                flops = flops_of(body)
                rate = flops / seconds / 1e9
                row.update({"gflop": flops / 1e9, "gflops": rate, "fraction_of_sgemm": rate / sgemm_rate})
            report["stages"].append(row)
    report["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
