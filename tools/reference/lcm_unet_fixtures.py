"""diffusers' outputs for a UNet with a guidance embedding (`time_cond_proj_dim`, as LCM-distilled
UNets such as LCM_Dreamshaper_v7 have), on the tiny pipeline of pipeline_fixtures.py.

Writes Tests/Fixtures/pipelines/:
  unet-lcm/               sd-tiny's UNet config with time_cond_proj_dim 8 (so a `cond_proj`
                          Linear(8, 16, bias=False) in its time embedding), random, f16
  lcm_unet_io.safetensors one forward pass, batch 2: sample, timestep, encoder_hidden_states,
                          timestep_cond (random), output = unet(..., timestep_cond=...), and
                          output_without_cond = unet(...) (as the ControlNet pipelines run it),
                          and the pipeline's get_guidance_scale_embedding(w) for w = [0.5, 7.0]
                          with 8 channels (guidance_embedding) and 9 (guidance_embedding_odd)
  lcm_<case>.png          StableDiffusionImg2ImgPipeline on sd-tiny with unet-lcm and
                          LCMScheduler.from_config(sd-tiny's scheduler config) for each case of
                          CASES: no classifier-free guidance, the scale reaching the UNet as
                          get_guidance_scale_embedding(guidance - 1)
  lcm_cases.json          the parameters of each case (scheduler "lcm" being the recipe name of
                          LCMScheduler)
Run after pipeline_fixtures.py (which clears pipelines/); deterministic.

Run: nice /tmp/ref/bin/python tools/reference/lcm_unet_fixtures.py
"""
import torch
from diffusers import LCMScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
from fixture_io import save_output, save_tensors, write_json
from PIL import Image
from pipeline_fixtures import PROMPT, UNET
from tiny_models import PIPELINES, round_to_half, save_half, sd_tiny_components, seeded_model

GUIDANCE_CHANNELS = 8

# The LCM pipelines' documented guidance range is about 1 to 2; 8 shows the embedding at a
# scale far from the other case.
CASES = {
    "img2img_guidance_1_5": dict(scheduler="lcm", steps=4, strength=1.0, guidance=1.5, seed=7),
    "img2img_guidance_8": dict(scheduler="lcm", steps=4, strength=0.75, guidance=8.0, seed=8),
}


def write_forward(unet, pipe):
    generator = torch.Generator().manual_seed(30)
    inputs = dict(sample=torch.randn(2, 4, 8, 8, generator=generator),
                  timestep=torch.tensor([499.0]),
                  encoder_hidden_states=torch.randn(2, 7, 16, generator=generator),
                  timestep_cond=torch.randn(2, GUIDANCE_CHANNELS, generator=generator))
    with torch.no_grad():
        output = unet(inputs["sample"], inputs["timestep"], encoder_hidden_states=inputs["encoder_hidden_states"],
                      timestep_cond=inputs["timestep_cond"]).sample
        without = unet(inputs["sample"], inputs["timestep"],
                       encoder_hidden_states=inputs["encoder_hidden_states"]).sample
    weights = torch.tensor([0.5, 7.0])
    embeddings = dict(guidance_embedding=pipe.get_guidance_scale_embedding(weights, embedding_dim=GUIDANCE_CHANNELS),
                      guidance_embedding_odd=pipe.get_guidance_scale_embedding(weights, embedding_dim=9))
    save_tensors(dict(inputs, output=output, output_without_cond=without, **embeddings),
                 PIPELINES / "lcm_unet_io.safetensors")


def main():
    unet = round_to_half(seeded_model(UNet2DConditionModel, 5, 15, **dict(UNET, time_cond_proj_dim=GUIDANCE_CHANNELS)))
    save_half(unet, PIPELINES / "unet-lcm")
    components = sd_tiny_components("unet-lcm")
    components["scheduler"] = LCMScheduler.from_config(components["scheduler"].config)
    pipe = StableDiffusionImg2ImgPipeline(**components)
    write_forward(unet, pipe)
    image = Image.open(PIPELINES / "input.png").convert("RGB")
    for name, case in CASES.items():
        with torch.no_grad():
            result = pipe(prompt=PROMPT, image=image, strength=case["strength"], num_inference_steps=case["steps"],
                          guidance_scale=case["guidance"],
                          generator=torch.Generator("cpu").manual_seed(case["seed"])).images[0]
        save_output(result, PIPELINES / f"lcm_{name}.png")
    write_json(PIPELINES / "lcm_cases.json", dict(prompt=PROMPT, cases=CASES))


if __name__ == "__main__":
    main()
