"""Writes Tests/Fixtures/schedulers/{cases.json,cases.bin}: full diffusers scheduler loops.

Every case builds a scheduler the way a pipeline does when the user picks one by name
(`Class.from_config(model_scheduler_config, **overrides)`), runs `set_timesteps`, draws the
initial latents from `torch.Generator("cpu").manual_seed(seed)`, and loops with a cheap
deterministic stand-in for the UNet:

    model_output = 0.1 * sample + 0.5 * sin(0.01 * t + 0.1 * i)     (i = flat element index)

recording timesteps, sigmas, init_noise_sigma, every prev_sample (and pred_original_sample
where diffusers returns one). Schedulers that draw noise get the same generator, so the
Swift side must consume TorchGenerator in diffusers' order. img2img cases also record
`add_noise` at the strength's first timestep and then loop from `set_begin_index`.

Tensors are float32, little-endian, concatenated in cases.bin; cases.json gives each
tensor's offset (in floats) and shape. Run: `python tools/reference/scheduler_fixtures.py`.
"""
import json
import pathlib
import sys

from diffusers import (
    DDIMInverseScheduler,
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LMSDiscreteScheduler,
    PNDMScheduler,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from scheduler_loop import SD15, SHAPE, Writer, run_loop  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "schedulers"

# name -> (class, overrides), as Overpaint's factory maps recipe names.
NAMES = {
    "ddim": (DDIMScheduler, {}),
    "ddim_inverse": (DDIMInverseScheduler, {}),
    "ddpm": (DDPMScheduler, {}),
    "pndm": (PNDMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "euler_a": (EulerAncestralDiscreteScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpmpp_2m_karras": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "lms": (LMSDiscreteScheduler, {}),
}


def build(name: str, config: dict, extra: dict):
    cls, overrides = NAMES[name]
    source_cls = {"PNDMScheduler": PNDMScheduler, "DDIMScheduler": DDIMScheduler}.get(config.get("_class_name"))
    if source_cls is not None:
        # As a pipeline does: the model's scheduler is loaded first, then swapped by from_config.
        source = source_cls.from_config(config)
        return cls.from_config(source.config, **{**overrides, **extra})
    return cls.from_config(config, **{**overrides, **extra})


def run_case(writer: Writer, name: str, config: dict, steps: int, seed: int, *, extra=None, eta=None,
             strength=None, label=None) -> dict:
    extra = extra or {}
    case = {"name": label or name, "scheduler": name, "config": config, "overrides": extra}
    return run_loop(writer, build(name, config, extra), case, steps, seed, eta=eta, strength=strength)


def main() -> None:
    writer = Writer()
    cases = []
    trailing_v = {**SD15, "prediction_type": "v_prediction", "timestep_spacing": "trailing"}
    linspace = {**SD15, "timestep_spacing": "linspace"}
    cosine = {"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 1000}
    defaults = {}
    for name in ["ddim", "ddpm", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "lms"]:
        cases.append(run_case(writer, name, SD15, 10, 0, label=f"{name}/sd15"))
        cases.append(run_case(writer, name, trailing_v, 8, 1, label=f"{name}/v_trailing"))
        cases.append(run_case(writer, name, linspace, 7, 2, label=f"{name}/linspace"))
        if name != "dpmpp_2m_karras":
            # Karras sigmas on the cosine schedule repeat timestep 998, and diffusers'
            # index_for_timestep then starts at the second copy and runs off the end.
            cases.append(run_case(writer, name, cosine, 6, 3, label=f"{name}/cosine"))
        cases.append(run_case(writer, name, defaults, 5, 4, label=f"{name}/defaults"))
        cases.append(run_case(writer, name, SD15, 10, 5, strength=0.6, label=f"{name}/img2img"))
    cases.append(run_case(writer, "ddim", SD15, 10, 6, eta=1.0, label="ddim/eta1"))
    cases.append(run_case(writer, "ddim", {**SD15, "prediction_type": "sample", "clip_sample": True}, 6, 7,
                          label="ddim/sample_clip"))
    cases.append(run_case(writer, "ddim_inverse", SD15, 10, 8, label="ddim_inverse/sd15"))
    cases.append(run_case(writer, "ddim_inverse", {**SD15, "timestep_spacing": "trailing"}, 6, 9,
                          label="ddim_inverse/trailing"))
    cases.append(run_case(writer, "pndm", {**SD15, "skip_prk_steps": False}, 10, 10, label="pndm/prk"))
    cases.append(run_case(writer, "dpmpp_2m", SD15, 20, 11, label="dpmpp_2m/sd15_20"))
    cases.append(run_case(writer, "dpmpp_2m", SD15, 8, 12, extra={"solver_order": 3}, label="dpmpp_3m/sd15"))
    cases.append(run_case(writer, "dpmpp_2m", SD15, 8, 13, extra={"solver_type": "heun"}, label="dpmpp_2m_heun/sd15"))
    cases.append(run_case(writer, "dpmpp_2m", SD15, 8, 14, extra={"algorithm_type": "sde-dpmsolver++"},
                          label="dpmpp_2m_sde/sd15"))
    cases.append(run_case(writer, "dpmpp_2m", SD15, 8, 15, extra={"final_sigmas_type": "sigma_min",
                                                                  "lower_order_final": False},
                          label="dpmpp_2m_sigma_min/sd15"))
    cases.append(run_case(writer, "euler", SD15, 8, 17, extra={"use_karras_sigmas": True}, label="euler_karras/sd15"))
    cases.append(run_case(writer, "lms", SD15, 8, 18, extra={"use_karras_sigmas": True}, label="lms_karras/sd15"))
    cases.append(run_case(writer, "ddpm", SD15, 10, 19, strength=0.8, label="ddpm/img2img_08"))

    schedules = {}
    for label, config in [("sd15", SD15), ("cosine", cosine), ("defaults", defaults)]:
        scheduler = DDIMScheduler.from_config(config)
        schedules[label] = {
            "config": config,
            "alphas_cumprod": writer.add(scheduler.alphas_cumprod),
            "betas": writer.add(scheduler.betas),
        }

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cases.bin").write_bytes(b"".join(writer.chunks))
    manifest = {"shape": list(SHAPE), "cases": cases, "schedules": schedules}
    (OUT / "cases.json").write_text(json.dumps(manifest, indent=1, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
