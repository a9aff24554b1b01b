"""The OpenVINO peer for `overpaint bench` (OpenVINO is the engine behind FastSD CPU): SD 1.5's
UNet and VAE from diffusers' classes with random weights (as bench_torch.py builds them),
converted with `openvino.convert_model` at static shapes (512x512, guidance batch 2) and compiled
for the CPU with INFERENCE_NUM_THREADS and an f32 or bf16 INFERENCE_PRECISION_HINT.

Prints seconds (median of --repetitions after a warm-up) per stage, as JSON with the same stage
names as bench_torch.py and `overpaint bench --json`. Run with the reference venv's python
(`pip install openvino`, 2026.4): /path/to/venv/bin/python tools/reference/bench_openvino.py
"""
import argparse
import json
import resource

import openvino
import torch

from bench_torch import sd15_unet, sd15_vae, timed


class UNetStep(torch.nn.Module):
    """One guided UNet evaluation as a plain tensor function (diffusers returns a dataclass)."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states).sample


class VAEEncode(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, pixels):
        return self.vae.encode(pixels).latent_dist.mean


class VAEDecode(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent):
        return self.vae.decode(latent).sample


def compiled(core, module, inputs, configuration):
    """`module` converted at the static shapes of `inputs` and compiled for the CPU."""
    with torch.no_grad():
        model = openvino.convert_model(module, example_input=inputs,
                                       input=[openvino.PartialShape(list(tensor.shape)) for tensor in inputs])
    return core.compile_model(model, "CPU", configuration)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--precision", choices=["f32", "bf16", "f16"], default="f32")
    arguments = parser.parse_args()
    torch.manual_seed(0)
    core = openvino.Core()
    configuration = {"INFERENCE_NUM_THREADS": arguments.threads, "INFERENCE_PRECISION_HINT": arguments.precision,
                     "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    vae = sd15_vae().eval()
    stages = [
        ("UNet, batch 2 (guidance), 64x64 latents", UNetStep(sd15_unet().eval()),
         (torch.randn(2, 4, 64, 64), torch.tensor(999, dtype=torch.int64), torch.randn(2, 77, 768))),
        ("VAE encode 512x512", VAEEncode(vae), (torch.randn(1, 3, 512, 512),)),
        ("VAE decode 512x512", VAEDecode(vae), (torch.randn(1, 4, 64, 64),)),
    ]
    report = {"openvino": openvino.__version__, "threads": arguments.threads, "precision": arguments.precision,
              "stages": []}
    for name, module, inputs in stages:
        model = compiled(core, module, inputs, configuration)
        request = model.create_infer_request()
        feed = [tensor.numpy() for tensor in inputs]
        seconds = timed(lambda: request.infer(feed), arguments.repetitions)
        report["stages"].append({"name": name, "seconds": seconds,
                                 "inference_precision": str(model.get_property("INFERENCE_PRECISION_HINT"))})
        del request, model
    report["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
