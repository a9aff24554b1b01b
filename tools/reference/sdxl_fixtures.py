"""Parity fixtures for SDXL: a tiny random SDXL pipeline, its components' outputs and
diffusers' StableDiffusionXLImg2ImgPipeline outputs.

Writes Tests/Fixtures/sdxl/:
  sdxl-tiny/       a diffusers SDXL pipeline folder WITHOUT the vocabulary (the tests copy
                   vocab.json / merges.txt from Tests/Fixtures/clip-tokenizer/ into tokenizer/
                   and tokenizer_2/, so the 1.5 MB vocabulary is stored once; tokenizer_2/ holds
                   only its settings, with SDXL's pad token "!"):
                   model_index.json (force_zeros_for_empty_prompt), scheduler/ (SDXL 1.0's
                   EulerDiscreteScheduler config), text_encoder/ (CLIPTextModel, hidden 8, quick_gelu),
                   text_encoder_2/ (CLIPTextModelWithProjection, hidden 16, gelu, projection 12,
                   eos_token_id 2 as in SDXL's config), unet/ (text_time, transformer_layers_per_block
                   [1, 1, 2], per-block heads, linear projections, cross_attention_dim 8 + 16),
                   vae/ (scaling_factor 0.13025, force_upcast)
  unet-inpaint/    a 9-channel UNet of the same layout (as the SDXL inpainting model)
  mask.png         the SD fixtures' 64x64 disc mask (white = repaint)
  controlnet/      an SDXL ControlNetModel.from_unet(unet) (text_time), conditioning embedding shrunk
  components.safetensors
                   inputs and outputs of each component (see write_component_io)
  input.png        64x64 RGB: the SD fixtures' astronaut crop
  <case>.png       StableDiffusionXLImg2ImgPipeline's (or StableDiffusionXLInpaintPipeline's, with
                   height=width=64 and the 9-channel UNet or the base one; or
                   StableDiffusionXLControlNetImg2ImgPipeline's with controlnet/ on the Canny map of
                   input.png) output for each case in CASES
  cases.json       the parameters of each case
  architectures.json
                   the full-size SDXL 1.0 base / inpainting components' state dicts on the meta
                   device: {arch: {component: {"parameters": N, "tensors": {name: shape}}}}
  restyle_sdxl.png recipes/restyle-sdxl.yaml's img2img edit on input.png, as diffusers runs it
All weights are rounded to f16 before the reference runs (the models run in f32) and saved as
f16, so the files hold exactly the weights that produced the outputs.
Deterministic: re-running rewrites identical files.

Run: /tmp/ref/bin/python tools/reference/sdxl_fixtures.py
It clears Tests/Fixtures/sdxl first: run sdxl_inversion_fixtures.py and
sdxl_controlnet_inpaint_fixtures.py after it, which write their cases there too.
"""

import json
import shutil

import torch
import yaml
from diffusers import (AutoencoderKL, ControlNetModel, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler,
                       StableDiffusionXLControlNetImg2ImgPipeline, StableDiffusionXLImg2ImgPipeline,
                       StableDiffusionXLInpaintPipeline, UNet2DConditionModel)
from fixture_io import FIXTURES, ROOT, save_output, save_tensors, write_json
from PIL import Image
from tiny_models import (PIPELINES, TOKENIZER, carry_image_through, clip_text_config, round_to_half, save_half,
                         seeded_model, tiny_vae, write_pipeline_folder)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

OUT = FIXTURES / "sdxl"
# cv2.Canny(np.asarray(input.png RGB), 100, 200), written by controlnet_pipeline_fixtures.py
CANNY_MAP = PIPELINES / "controlnet_canny_map.png"

PROMPT = "an astronaut in a garden, oil painting"

# SDXL 1.0 base's scheduler/scheduler_config.json
SCHEDULER = dict(
    beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, clip_sample=False,
    interpolation_type="linear", num_train_timesteps=1000, prediction_type="epsilon", sample_max_value=1.0,
    set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, timestep_spacing="leading",
    trained_betas=None, use_karras_sigmas=False,
)

# SDXL's layout at toy widths: no attention in the first level, more transformer layers deeper,
# heads per block, linear projections, text_time with 6 time ids.
POOLED = 12
TIME_ID_WIDTH = 4
UNET = dict(
    sample_size=8, in_channels=4, out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(8, 16, 16), layers_per_block=2, transformer_layers_per_block=(1, 1, 2),
    attention_head_dim=(1, 2, 2), cross_attention_dim=8 + 16, norm_num_groups=4, use_linear_projection=True,
    addition_embed_type="text_time", addition_time_embed_dim=TIME_ID_WIDTH,
    projection_class_embeddings_input_dim=POOLED + 6 * TIME_ID_WIDTH,
)

CASES = {
    # no negative prompt: force_zeros_for_empty_prompt gives zero negative embeddings
    "img2img_euler": dict(scheduler=None, strength=0.6, steps=10, guidance=5.0, seed=42),
    # both negative prompts and a second prompt, through text_encoder_2
    "img2img_prompt_2_euler_a": dict(scheduler="euler_a", strength=0.75, steps=8, guidance=7.0, seed=7,
                                     prompt_2="a watercolor of a spaceman", negative="blurry",
                                     negative_2="low quality"),
    # guidance <= 1: no classifier-free guidance batch
    "img2img_no_cfg": dict(scheduler=None, strength=0.5, steps=10, guidance=1.0, seed=3),
    # the 9-channel inpainting UNet from pure noise; a 4-channel UNet with latent blending
    "inpaint_9ch": dict(kind="inpaint", unet="inpaint", scheduler=None, strength=1.0, steps=10, guidance=5.0, seed=7),
    "inpaint_4ch_euler_a": dict(kind="inpaint", unet="base", scheduler="euler_a", strength=0.75, steps=8,
                                guidance=6.0, seed=13, negative="blurry"),
    # size conditioning given (diffusers' (height, width) / (top, left) tuples), not the working size
    "img2img_sizes": dict(scheduler=None, strength=0.6, steps=6, guidance=5.0, seed=9, original_size=[1024, 768],
                          crops_coords_top_left=[16, 8], target_size=[96, 80]),
    # SDXL-Turbo's way: its shipped Euler ancestral with trailing spacing, guidance 0 (no CFG batch),
    # 2 steps at strength 0.5 (steps x strength >= 1), the model's own scheduler (scheduler None)
    "img2img_turbo": dict(scheduler=None, scheduler_class="EulerAncestralDiscreteScheduler",
                          timestep_spacing="trailing", strength=0.5, steps=2, guidance=0.0, seed=5),
    # the text_time ControlNet on the Canny map; then acting over the first half of the steps only
    "controlnet_canny": dict(kind="controlnet", scheduler=None, strength=0.75, steps=10, guidance=5.0, seed=42,
                             scale=0.8, start=0.0, end=1.0),
    "controlnet_canny_end_half": dict(kind="controlnet", scheduler=None, strength=0.75, steps=10, guidance=5.0,
                                      seed=42, scale=0.8, start=0.0, end=0.5, negative="blurry"),
}


def build_text_encoders():
    first = seeded_model(CLIPTextModel, 1, 11,
                         clip_text_config(8, 3, projection_dim=8, hidden_act="quick_gelu", bos_token_id=0))
    second = seeded_model(CLIPTextModelWithProjection, 2, 12,
                          clip_text_config(16, 3, projection_dim=POOLED, hidden_act="gelu", bos_token_id=0))
    return round_to_half(first), round_to_half(second)


def build_vae():
    return round_to_half(carry_image_through(tiny_vae(3, 13, scaling_factor=0.13025, force_upcast=True)))


def build_unet(in_channels=4, seed=4):
    return round_to_half(seeded_model(UNet2DConditionModel, seed, seed + 10, **dict(UNET, in_channels=in_channels)))


def build_controlnet(unet):
    model = seeded_model(ControlNetModel.from_unet, 5, 15, unet, conditioning_embedding_out_channels=(4, 8, 8, 16))
    # from_unet zero-initialises the output convolutions; random ones make the residuals non-zero
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")):
                parameter.copy_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(16)) * 0.2)
    return round_to_half(model)


def write_component_io(text_encoder, text_encoder_2, unet, controlnet, tokenizer, tokenizer_2):
    """components.safetensors:
    ids, ids_2            [2, 77] the prompts ["PROMPT", ""] through tokenizer / tokenizer_2 (pad "!")
    te_penultimate        text_encoder(ids, output_hidden_states=True).hidden_states[-2]
    te2_penultimate       text_encoder_2(ids_2, output_hidden_states=True).hidden_states[-2]
    te2_text_embeds       text_encoder_2(ids_2).text_embeds
    te2_last_hidden_state text_encoder_2(ids_2).last_hidden_state
    sample, encoder_hidden_states, timestep [1], text_embeds, time_ids  UNet inputs (batch 2)
    unet_output           unet(sample, t, states, added_cond_kwargs={text_embeds, time_ids}).sample
    controlnet_cond       [2, 3, 64, 64] in 0...1
    controlnet_down_<i>, controlnet_mid
                          controlnet(sample, t, states, controlnet_cond, conditioning_scale=0.7,
                                     added_cond_kwargs=...) residuals
    """
    generator = torch.Generator().manual_seed(21)
    prompts = [PROMPT, ""]
    ids = tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    ids_2 = tokenizer_2(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    tensors = {"ids": ids.float(), "ids_2": ids_2.float()}
    batch = 2
    sample = torch.randn(batch, 4, 8, 8, generator=generator)
    states = torch.randn(batch, 5, UNET["cross_attention_dim"], generator=generator)
    text_embeds = torch.randn(batch, POOLED, generator=generator)
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0], [1024.0, 768.0, 16.0, 8.0, 512.0, 512.0]])
    cond = torch.rand(batch, 3, 64, 64, generator=generator)
    timestep = 601.0
    added = {"text_embeds": text_embeds, "time_ids": time_ids}
    with torch.no_grad():
        tensors["te_penultimate"] = text_encoder(ids, output_hidden_states=True).hidden_states[-2]
        out_2 = text_encoder_2(ids_2, output_hidden_states=True)
        tensors["te2_penultimate"] = out_2.hidden_states[-2]
        tensors["te2_text_embeds"] = out_2.text_embeds
        tensors["te2_last_hidden_state"] = out_2.last_hidden_state
        tensors["unet_output"] = unet(sample, timestep, encoder_hidden_states=states, added_cond_kwargs=added).sample
        down, mid = controlnet(sample, timestep, encoder_hidden_states=states, controlnet_cond=cond,
                               conditioning_scale=0.7, added_cond_kwargs=added, return_dict=False)
    for index, residual in enumerate(down):
        tensors[f"controlnet_down_{index}"] = residual
    tensors["controlnet_mid"] = mid
    tensors.update(sample=sample, encoder_hidden_states=states, timestep=torch.tensor([timestep]),
                   text_embeds=text_embeds, time_ids=time_ids, controlnet_cond=cond)
    save_tensors(tensors, OUT / "components.safetensors")


def write_second_tokenizer(folder):
    """tokenizer_2's settings as SDXL ships them; the vocabulary is copied in by the tests."""
    (folder / "tokenizer_2").mkdir()
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "!",
               "unk_token": "<|endoftext|>"}
    (folder / "tokenizer_2" / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    settings = dict(special, model_max_length=77, do_lower_case=True, tokenizer_class="CLIPTokenizer")
    (folder / "tokenizer_2" / "tokenizer_config.json").write_text(json.dumps(settings, indent=2) + "\n")


def write_folder(folder, text_encoder, text_encoder_2, unet, vae):
    index = {
        "_class_name": "StableDiffusionXLImg2ImgPipeline",
        "force_zeros_for_empty_prompt": True,
        "requires_aesthetics_score": False,
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    models = dict(text_encoder=text_encoder, text_encoder_2=text_encoder_2, unet=unet, vae=vae)
    write_pipeline_folder(folder, index, {"scheduler": SCHEDULER}, models)
    write_second_tokenizer(folder)


# stabilityai/stable-diffusion-xl-base-1.0's configs (unet, vae, text_encoder, text_encoder_2)
SDXL_UNET = dict(
    sample_size=128, addition_embed_type="text_time", addition_time_embed_dim=256, attention_head_dim=[5, 10, 20],
    block_out_channels=[320, 640, 1280], cross_attention_dim=2048,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], layers_per_block=2,
    projection_class_embeddings_input_dim=2816, transformer_layers_per_block=[1, 2, 10], use_linear_projection=True,
)
SDXL_VAE = dict(block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
                up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=2, sample_size=1024, scaling_factor=0.13025,
                force_upcast=True)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768, bos_token_id=0, eos_token_id=2)
OPENCLIP_BIGG = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                     num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280,
                     bos_token_id=0, eos_token_id=2)


def write_architectures():
    def describe(model):
        tensors = {k: list(v.shape) for k, v in model.state_dict().items() if not k.endswith("position_ids")}
        return {"parameters": sum(v.numel() for v in model.parameters()), "tensors": tensors}

    with torch.device("meta"):
        result = {
            "sdxl": {"unet": describe(UNet2DConditionModel(**SDXL_UNET)), "vae": describe(AutoencoderKL(**SDXL_VAE)),
                     "text_encoder": describe(CLIPTextModel(CLIPTextConfig(**CLIP_L))),
                     "text_encoder_2": describe(CLIPTextModelWithProjection(CLIPTextConfig(**OPENCLIP_BIGG)))},
            "sdxl-inpaint": {"unet": describe(UNet2DConditionModel(**dict(SDXL_UNET, in_channels=9)))},
        }
    (OUT / "architectures.json").write_text(json.dumps(result, sort_keys=True, separators=(",", ":")))
    for arch, components in result.items():
        print(arch, {c: v["parameters"] for c, v in components.items()})


def restyle_sdxl_reference(make_pipe):
    """recipes/restyle-sdxl.yaml's edit, its keys passed as the recipe contract maps them."""
    recipe = yaml.safe_load((ROOT / "recipes" / "restyle-sdxl.yaml").read_text())
    edit = recipe["edits"][0]["img2img"]
    generator = torch.Generator("cpu").manual_seed(recipe["seed"])
    with torch.no_grad():
        result = make_pipe(EulerDiscreteScheduler)(
            prompt=edit["prompt"], prompt_2=edit.get("prompt_2"), negative_prompt=edit.get("negative_prompt"),
            negative_prompt_2=edit.get("negative_prompt_2"), image=Image.open(OUT / "input.png").convert("RGB"),
            strength=edit["strength"], num_inference_steps=edit["steps"], guidance_scale=edit["guidance"],
            generator=generator,
        ).images[0]
    result.save(OUT / "restyle_sdxl.png")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    folder = OUT / "sdxl-tiny"
    text_encoder, text_encoder_2 = build_text_encoders()
    vae, unet, unet_inpaint = build_vae(), build_unet(), build_unet(9, 6)
    controlnet = build_controlnet(unet)
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER)
    tokenizer_2 = CLIPTokenizer.from_pretrained(TOKENIZER, pad_token="!")
    write_folder(folder, text_encoder, text_encoder_2, unet, vae)
    save_half(controlnet, OUT / "controlnet")
    save_half(unet_inpaint, OUT / "unet-inpaint")
    write_component_io(text_encoder, text_encoder_2, unet, controlnet, tokenizer, tokenizer_2)

    shutil.copy(PIPELINES / "input.png", OUT / "input.png")
    shutil.copy(PIPELINES / "mask.png", OUT / "mask.png")
    scheduler = EulerDiscreteScheduler.from_pretrained(folder / "scheduler")
    schedulers = {None: EulerDiscreteScheduler, "euler_a": EulerAncestralDiscreteScheduler}
    def make_pipe(scheduler_class, kind="img2img", unet_kind="base"):
        pipeline_class = {"img2img": StableDiffusionXLImg2ImgPipeline, "inpaint": StableDiffusionXLInpaintPipeline,
                          "controlnet": StableDiffusionXLControlNetImg2ImgPipeline}[kind]
        extra = dict(controlnet=controlnet) if kind == "controlnet" else {}
        return pipeline_class(
            **extra,
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
            tokenizer_2=tokenizer_2, unet=unet_inpaint if unet_kind == "inpaint" else unet,
            scheduler=scheduler_class.from_config(scheduler.config),
            requires_aesthetics_score=False, force_zeros_for_empty_prompt=True, add_watermarker=False,
        )

    for name, case in CASES.items():
        kind = case.get("kind", "img2img")
        pipe = make_pipe(schedulers[case["scheduler"]], kind, case.get("unet", "base"))
        if "scheduler_class" in case:
            # a model that ships this scheduler config (as SDXL-Turbo does)
            pipe.scheduler = {"EulerAncestralDiscreteScheduler": EulerAncestralDiscreteScheduler}[case["scheduler_class"]] \
                .from_config(scheduler.config, timestep_spacing=case["timestep_spacing"])
        generator = torch.Generator("cpu").manual_seed(case["seed"])
        extra = {key: tuple(case[key]) for key in ("original_size", "crops_coords_top_left", "target_size")
                 if key in case}
        if kind == "inpaint":
            extra.update(mask_image=Image.open(OUT / "mask.png"), height=64, width=64)
        elif kind == "controlnet":
            extra.update(control_image=Image.open(CANNY_MAP).convert("RGB"), controlnet_conditioning_scale=case["scale"],
                         control_guidance_start=case["start"], control_guidance_end=case["end"])
        with torch.no_grad():
            result = pipe(
                **extra,
                prompt=PROMPT, prompt_2=case.get("prompt_2"), negative_prompt=case.get("negative"),
                negative_prompt_2=case.get("negative_2"), image=Image.open(OUT / "input.png").convert("RGB"),
                strength=case["strength"], num_inference_steps=case["steps"], guidance_scale=case["guidance"],
                generator=generator,
            ).images[0]
        save_output(result, OUT / f"{name}.png")
    write_json(OUT / "cases.json", dict(prompt=PROMPT, cases=CASES))
    restyle_sdxl_reference(make_pipe)
    write_architectures()


if __name__ == "__main__":
    main()
