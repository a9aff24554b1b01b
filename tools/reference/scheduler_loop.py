"""The reference scheduler loop shared by scheduler_fixtures.py and fewstep_scheduler_fixtures.py
(and SD 1.5's scheduler config, which pipeline_fixtures.py writes into sd-tiny too).

`run_loop` takes a scheduler built as a pipeline builds it, runs `set_timesteps`, draws the
initial latents from `torch.Generator("cpu").manual_seed(seed)` (or, for img2img, follows
StableDiffusionImg2ImgPipeline's get_timesteps + prepare_latents) and loops with a cheap
deterministic stand-in for the UNet:

    model_output = 0.1 * sample + 0.5 * sin(0.01 * t + 0.1 * i)     (i = flat element index)

passing the same generator (and `eta`) to `step` where it takes them, and records the case in
the format Tests/SchedulersTests/SchedulerFixtures.swift reads: float32 tensors appended to a
Writer, referenced by offset (in floats) and shape.
"""
import numpy as np
import torch

SHAPE = (1, 4, 8, 8)

# Stable Diffusion 1.5's scheduler_config.json, as shipped, in its order (the cases record it as it is).
SD15 = dict(
    _class_name="PNDMScheduler", _diffusers_version="0.6.0", beta_end=0.012, beta_schedule="scaled_linear",
    beta_start=0.00085, num_train_timesteps=1000, set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1,
    trained_betas=None, clip_sample=False,
)


class Writer:
    def __init__(self):
        self.chunks = []
        self.offset = 0

    def add(self, tensor) -> dict:
        array = np.ascontiguousarray(np.asarray(tensor, dtype=np.float32))
        entry = {"offset": self.offset, "shape": list(array.shape)}
        self.chunks.append(array.reshape(-1).astype("<f4").tobytes())
        self.offset += array.size
        return entry


def fake_model(sample: torch.Tensor, t) -> torch.Tensor:
    phase = np.sin(0.01 * float(t) + 0.1 * np.arange(sample.numel(), dtype=np.float64)).astype(np.float32)
    return 0.1 * sample + 0.5 * torch.from_numpy(phase).reshape(sample.shape)


def clean_estimate(result):
    """The step's estimate of the clean sample: `pred_original_sample`, or LCM's `denoised`."""
    for key in ("pred_original_sample", "denoised"):
        value = getattr(result, key, None)
        if value is not None:
            return value
    return None


def run_loop(writer: Writer, scheduler, case: dict, steps: int, seed: int, *, eta=None, strength=None) -> dict:
    """Completes `case` (name, scheduler, config, overrides) with the loop's record."""
    scheduler.set_timesteps(steps)
    case.update({
        "steps": steps,
        "seed": seed,
        # For reading only; infinities as strings so the file stays strict JSON.
        "resolved_config": {k: (str(v) if isinstance(v, float) and not np.isfinite(v) else v)
                            for k, v in dict(scheduler.config).items() if not k.startswith("_")},
        "timesteps": [float(t) for t in scheduler.timesteps],
        "init_noise_sigma": float(scheduler.init_noise_sigma),
        "order": scheduler.order,
        "tensors": {},
    })
    if hasattr(scheduler, "sigmas"):
        case["sigmas"] = [float(s) for s in scheduler.sigmas]
    if eta is not None:
        case["eta"] = eta
    generator = torch.Generator("cpu").manual_seed(seed)
    timesteps = scheduler.timesteps
    if strength is None:
        latents = torch.randn(SHAPE, generator=generator, dtype=torch.float32)
        case["tensors"]["initial_noise"] = writer.add(latents)
        latents = latents * scheduler.init_noise_sigma
    else:
        # StableDiffusionImg2ImgPipeline.get_timesteps + prepare_latents.
        init_timestep = min(int(steps * strength), steps)
        t_start = max(steps - init_timestep, 0)
        timesteps = scheduler.timesteps[t_start * scheduler.order:]
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(t_start * scheduler.order)
        original = torch.from_numpy(np.linspace(-1.5, 1.5, int(np.prod(SHAPE)), dtype=np.float32)).reshape(SHAPE)
        noise = torch.randn(SHAPE, generator=generator, dtype=torch.float32)
        latents = scheduler.add_noise(original, noise, timesteps[:1].repeat(1))
        case["strength"] = strength
        case["start_index"] = t_start * scheduler.order
        case["tensors"]["original"] = writer.add(original)
        case["tensors"]["noise"] = writer.add(noise)
        case["tensors"]["noised"] = writer.add(latents)
    for index, t in enumerate(timesteps):
        output = fake_model(scheduler.scale_model_input(latents, t), t)
        kwargs = {}
        if "generator" in scheduler.step.__code__.co_varnames:
            kwargs["generator"] = generator
        if eta is not None:
            kwargs["eta"] = eta
        result = scheduler.step(output, t, latents, **kwargs)
        latents = result.prev_sample
        case["tensors"][f"prev_sample_{index}"] = writer.add(latents)
        estimate = clean_estimate(result)
        if estimate is not None and index % 3 == 0:
            case["tensors"][f"pred_original_{index}"] = writer.add(estimate)
    case["loop_length"] = len(timesteps)
    return case
