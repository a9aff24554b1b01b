"""Writes Tests/Fixtures/schedulers/{fewstep.json,fewstep.bin}: diffusers loops of the
few-step samplers, in the format of scheduler_fixtures.py (read by the same Swift loader).

Cases:
  lcm/*    LCMScheduler.from_config(SD 1.5's PNDM config) (and other configs): several step
           counts, one step, img2img strengths, `original_inference_steps` / `timestep_scaling`
           overrides, a `trailing` config (LCM ignores `timestep_spacing`), v-prediction on a
           zero-terminal-SNR schedule, x0-prediction with clipping.
  tcd/*    TCDScheduler likewise, with gamma (`step`'s `eta`) 0, 0.3, 0.5 and 1, and one case
           that passes no eta (diffusers' default 0.3).
  turbo/*  SDXL-Turbo's shipped scheduler_config.json (EulerAncestralDiscreteScheduler,
           `timestep_spacing: trailing`) as the model loads it (scheduler "own"), for 1 and 4
           steps and img2img at 2 steps / strength 0.5; and EulerDiscreteScheduler from it.

Each case builds the scheduler as a pipeline does (`Class.from_config(model_config,
**overrides)`), runs `set_timesteps`, draws the initial latents from
`torch.Generator("cpu").manual_seed(seed)` and loops with the stand-in denoiser

    model_output = 0.1 * sample + 0.5 * sin(0.01 * t + 0.1 * i)     (i = flat element index)

passing the same generator (and `eta`) to `step`, recording timesteps, init_noise_sigma,
sigmas where the class has them, every prev_sample, and every third step's clean-sample
estimate (`pred_original_sample`, LCM's `denoised`). img2img cases follow
StableDiffusionImg2ImgPipeline: `set_timesteps(steps)`, then `get_timesteps` (the last
int(steps * strength) timesteps, `set_begin_index`) and `add_noise` at the first of them.

Also writes Tests/Fixtures/fewstep/restyle_fast.png: recipes/restyle-fast.yaml's edit on
the tiny pipeline Tests/Fixtures/pipelines/sd-tiny, i.e. diffusers'
StableDiffusionImg2ImgPipeline with LCMScheduler.from_config(pipe.scheduler.config), 8
steps at strength 0.5, guidance 1, seed 42, its prompt encoded with A1111's emphasis by
a1111_prompt_fixtures.py (diffusers has no A1111 syntax) and passed as `prompt_embeds`.

Run: nice /tmp/ref/bin/python tools/reference/fewstep_scheduler_fixtures.py
"""
import json
import pathlib
import sys

import torch
from diffusers import (
    AutoencoderKL,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
    PNDMScheduler,
    StableDiffusionImg2ImgPipeline,
    TCDScheduler,
    UNet2DConditionModel,
)
from PIL import Image
from transformers import CLIPTextModel, CLIPTokenizer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from a1111_prompt_fixtures import a1111_embeddings  # noqa: E402
from scheduler_loop import SD15, SHAPE, Writer, run_loop  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "schedulers"
PIPELINES = ROOT / "Tests" / "Fixtures" / "pipelines"
# stabilityai/sdxl-turbo's scheduler/scheduler_config.json, as shipped.
SDXL_TURBO = {
    "_class_name": "EulerAncestralDiscreteScheduler",
    "_diffusers_version": "0.24.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "trailing",
    "trained_betas": None,
    "use_karras_sigmas": False,
}

CLASSES = {
    "PNDMScheduler": PNDMScheduler,
    "EulerAncestralDiscreteScheduler": EulerAncestralDiscreteScheduler,
}
# recipe name -> class; "own" is the class the config names, as a pipeline loads it.
NAMES = {"lcm": LCMScheduler, "tcd": TCDScheduler, "euler": EulerDiscreteScheduler}

RESTYLE_FAST = dict(prompt="a watercolor painting, (soft washes of colour:1.2), [photo], paper texture",
                    steps=8, strength=0.5, guidance=1.0, seed=42)


def build(name: str, config: dict, extra: dict):
    source_cls = CLASSES.get(config.get("_class_name"))
    if source_cls is None:
        return NAMES[name].from_config(config, **extra)
    # As a pipeline does: the model's scheduler is loaded first, then swapped by from_config.
    source = source_cls.from_config(config)
    if name == "own":
        return source
    return NAMES[name].from_config(source.config, **extra)


def run_case(writer: Writer, label: str, name: str, config: dict, steps: int, seed: int, *, extra=None,
             eta=None, strength=None) -> dict:
    extra = extra or {}
    case = {"name": label, "scheduler": name, "config": config, "overrides": extra}
    return run_loop(writer, build(name, config, extra), case, steps, seed, eta=eta, strength=strength)


def scheduler_cases(writer: Writer) -> list:
    trailing = {**SD15, "timestep_spacing": "trailing"}
    v_zero_snr = {**SD15, "prediction_type": "v_prediction", "rescale_betas_zero_snr": True}
    sample_clip = {**SD15, "prediction_type": "sample", "clip_sample": True, "clip_sample_range": 0.8}
    cosine = {"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 1000}
    v = {**SD15, "prediction_type": "v_prediction"}
    return [
        run_case(writer, "lcm/sd15", "lcm", SD15, 4, 0),
        run_case(writer, "lcm/sd15_8", "lcm", SD15, 8, 1),
        run_case(writer, "lcm/sd15_1", "lcm", SD15, 1, 2),
        run_case(writer, "lcm/img2img", "lcm", SD15, 8, 3, strength=0.5),
        run_case(writer, "lcm/img2img_07", "lcm", SD15, 6, 4, strength=0.7),
        run_case(writer, "lcm/trailing", "lcm", trailing, 4, 5),
        run_case(writer, "lcm/original100_scaling5", "lcm", SD15, 6, 6,
                 extra={"original_inference_steps": 100, "timestep_scaling": 5.0}),
        run_case(writer, "lcm/v_zero_snr", "lcm", v_zero_snr, 4, 7),
        run_case(writer, "lcm/sample_clip", "lcm", sample_clip, 3, 8),
        run_case(writer, "lcm/defaults", "lcm", {}, 4, 9),
        run_case(writer, "lcm/cosine", "lcm", cosine, 5, 10),
        run_case(writer, "lcm/all_50", "lcm", SD15, 50, 11),
        run_case(writer, "tcd/sd15", "tcd", SD15, 4, 12, eta=0.3),
        run_case(writer, "tcd/sd15_eta0", "tcd", SD15, 4, 13, eta=0.0),
        run_case(writer, "tcd/sd15_eta1", "tcd", SD15, 6, 14, eta=1.0),
        run_case(writer, "tcd/img2img", "tcd", SD15, 8, 15, eta=0.3, strength=0.5),
        run_case(writer, "tcd/v", "tcd", v, 4, 16, eta=0.5),
        run_case(writer, "tcd/default_gamma", "tcd", SD15, 4, 17),
        run_case(writer, "tcd/sample", "tcd", {**SD15, "prediction_type": "sample"}, 3, 18, eta=0.3),
        run_case(writer, "tcd/defaults", "tcd", {}, 2, 19, eta=0.3),
        run_case(writer, "turbo/euler_a_1", "own", SDXL_TURBO, 1, 20),
        run_case(writer, "turbo/euler_a_4", "own", SDXL_TURBO, 4, 21),
        run_case(writer, "turbo/euler_a_img2img", "own", SDXL_TURBO, 2, 22, strength=0.5),
        run_case(writer, "turbo/euler_4", "euler", SDXL_TURBO, 4, 23),
    ]


def restyle_fast_reference() -> None:
    """recipes/restyle-fast.yaml's img2img on sd-tiny, as diffusers runs it."""
    folder = PIPELINES / "sd-tiny"
    tokenizer = CLIPTokenizer.from_pretrained(ROOT / "Tests" / "Fixtures" / "clip-tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", torch_dtype=torch.float32).eval()
    model = PNDMScheduler.from_pretrained(folder / "scheduler")
    pipe = StableDiffusionImg2ImgPipeline(
        vae=AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float32),
        text_encoder=text_encoder, tokenizer=tokenizer,
        unet=UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32),
        scheduler=LCMScheduler.from_config(model.config),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    case = RESTYLE_FAST
    with torch.no_grad():
        embeds = a1111_embeddings(tokenizer, text_encoder, case["prompt"])
        image = pipe(prompt_embeds=embeds, image=Image.open(PIPELINES / "input.png").convert("RGB"),
                     strength=case["strength"], num_inference_steps=case["steps"], guidance_scale=case["guidance"],
                     generator=torch.Generator("cpu").manual_seed(case["seed"])).images[0]
    out = ROOT / "Tests" / "Fixtures" / "fewstep"
    out.mkdir(parents=True, exist_ok=True)
    image.save(out / "restyle_fast.png")
    (out / "restyle_fast.json").write_text(json.dumps(case, indent=1) + "\n")


def main() -> None:
    writer = Writer()
    cases = scheduler_cases(writer)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fewstep.bin").write_bytes(b"".join(writer.chunks))
    manifest = {"shape": list(SHAPE), "cases": cases, "schedules": {}}
    (OUT / "fewstep.json").write_text(json.dumps(manifest, indent=1, allow_nan=False) + "\n")
    restyle_fast_reference()


if __name__ == "__main__":
    main()
