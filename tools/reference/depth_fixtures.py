"""Parity fixtures for Depth Anything (V2) depth estimation and the depth ControlNet recipe.

Writes Tests/Fixtures/depth/ with
  model/config.json, model/model.safetensors, model/preprocessor_config.json
      a tiny random transformers DepthAnythingForDepthEstimation (Dinov2 backbone) saved by
      save_pretrained (which writes the hub checkpoints' key names, e.g.
      `attention.attention.query`, as depth-anything/Depth-Anything-V2-Small-hf has them),
      plus a processor config in the hub layout (DPTImageProcessor) with a tiny `size`
  image.png        a 60x45 RGB photo crop (chelsea, public domain, from scikit-image)
  cases.safetensors
      pixel_values          the processor's output for image.png ([1, 3, 42, 56])
      feature_<i>           the backbone's feature maps (after its layernorm) [1, 1 + 3 * 4, D]
      neck_<i>              the neck's fused maps
      predicted_depth       the model's output [1, 42, 56]
      resized_depth         post_process_depth_estimation to the image size [45, 60]
      control               the depth-estimation pipeline's `depth` image as uint8 values [45, 60]
      astronaut_control     the same for Tests/Fixtures/pipelines/input.png [64, 64]
      pos_<h>x<w>           Dinov2Embeddings.interpolate_pos_encoding for an h x w input
  ops.safetensors  bilinear (align_corners True/False) and bicubic interpolation and a
                   ConvTranspose2d, each input with its torch output; pil_<filter>_<w>x<h>:
                   image.png resized by Pillow (8-bit samples as floats, [h, w, 3])
  restyle_depth.png
      StableDiffusionControlNetImg2ImgPipeline on the tiny pipeline of
      Tests/Fixtures/pipelines (sd-tiny, controlnet_tiny as the depth ControlNet) with
      astronaut_control as the control image: the settings of recipes/restyle-depth.yaml

Control-image convention: transformers' depth-estimation pipeline, as diffusers' ControlNet
depth examples use it: the predicted depth resized to the image size (bicubic), min-max
normalised, times 255 truncated to uint8, the gray map repeated over 3 channels.

Deterministic: re-running rewrites identical files.
Run: /tmp/ref/bin/python tools/reference/depth_fixtures.py
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, DPTImageProcessorPil, pipeline

FIXTURES = Path(os.path.dirname(os.path.abspath(__file__))) / ".." / ".." / "Tests" / "Fixtures"
OUT = FIXTURES / "depth"
PIPELINES = FIXTURES / "pipelines"
SEED = 4000

BACKBONE = dict(
    hidden_size=16, num_hidden_layers=5, num_attention_heads=2, mlp_ratio=2, image_size=56, patch_size=14,
    layerscale_value=1.0, out_indices=[1, 3, 4, 5], reshape_hidden_states=False,
)
MODEL = dict(
    patch_size=14, reassemble_hidden_size=16, reassemble_factors=[4, 2, 1, 0.5], neck_hidden_sizes=[4, 8, 12, 16],
    fusion_hidden_size=8, head_hidden_size=4, depth_estimation_type="relative",
)
PROCESSOR = dict(
    do_normalize=True, do_pad=False, do_rescale=True, do_resize=True, ensure_multiple_of=14,
    image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], image_processor_type="DPTImageProcessor",
    keep_aspect_ratio=True, resample=3, rescale_factor=1 / 255, size={"height": 56, "width": 56},
)
# Pillow's 8-bit resize of image.png (60x45): (filter name, filter, (width, height)).
PIL_RESIZES = [("bicubic", Image.Resampling.BICUBIC, (37, 29)), ("bicubic", Image.Resampling.BICUBIC, (97, 71)),
               ("bilinear", Image.Resampling.BILINEAR, (20, 50)), ("lanczos", Image.Resampling.LANCZOS, (80, 60))]
RESTYLE = dict(prompt="an astronaut in a garden, oil painting", strength=0.75, steps=10, guidance=7.5, scale=0.8, seed=42)


def build_model():
    torch.manual_seed(SEED)
    config = DepthAnythingConfig(backbone_config=dict(model_type="dinov2", **BACKBONE), **MODEL)
    model = DepthAnythingForDepthEstimation(config).eval()
    generator = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        # The default init (std 0.02, zero biases, unit layer scales) would make every layer
        # nearly the identity; scaled noise makes each tensor matter.
        for name, parameter in model.named_parameters():
            if name.endswith("mask_token"):
                continue
            noise = torch.randn(parameter.shape, generator=generator)
            if "layernorm" in name or "norm1" in name or "norm2" in name:
                parameter.copy_((1 if name.endswith("weight") else 0) + 0.1 * noise)
            elif "lambda1" in name:
                parameter.copy_(0.5 + 0.2 * noise)
            elif parameter.ndim == 1:
                parameter.copy_(0.1 * noise)
            else:
                fan_in = parameter[0].numel() if "resize" not in name else parameter.shape[0]
                parameter.copy_(noise * (1.0 / fan_in) ** 0.5)
        # Keep the final ReLU alive over most of the map so min-max normalisation is well posed.
        model.head.conv3.bias.fill_(0.5)
    return model


def save_model(model):
    folder = OUT / "model"
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(PROCESSOR, indent=2, sort_keys=True) + "\n")
    return sorted(model.state_dict().keys())


def run_model(model, pixel_values):
    with torch.no_grad():
        backbone = model.backbone(pixel_values)
        features = backbone.feature_maps
        patch_height, patch_width = pixel_values.shape[2] // 14, pixel_values.shape[3] // 14
        neck = model.neck(list(features), patch_height, patch_width)
        depth = model(pixel_values=pixel_values).predicted_depth
    return features, neck, depth


def control_image(estimator, image):
    """The depth-estimation pipeline's `depth` image: what diffusers' depth examples feed the ControlNet."""
    return np.asarray(estimator(image)["depth"])


def interpolation_ops():
    generator = torch.Generator().manual_seed(SEED + 2)
    x = torch.randn(1, 3, 5, 7, generator=generator)
    conv = torch.nn.ConvTranspose2d(3, 4, kernel_size=2, stride=2)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator))
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator))
        f = torch.nn.functional
        return dict(
            x=x,
            bilinear_corners_9x11=f.interpolate(x, size=(9, 11), mode="bilinear", align_corners=True),
            bilinear_corners_x2=f.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
            bilinear_3x4=f.interpolate(x, size=(3, 4), mode="bilinear", align_corners=False),
            bilinear_8x13=f.interpolate(x, size=(8, 13), mode="bilinear", align_corners=False),
            bicubic_8x13=f.interpolate(x, size=(8, 13), mode="bicubic", align_corners=False),
            bicubic_3x4=f.interpolate(x, size=(3, 4), mode="bicubic", align_corners=False),
            convt_weight=conv.weight.detach().clone(), convt_bias=conv.bias.detach().clone(),
            convt_2=conv(x),
        )


def restyle_reference(control):
    from diffusers import (AutoencoderKL, ControlNetModel, PNDMScheduler, StableDiffusionControlNetImg2ImgPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextModel, CLIPTokenizer
    sd = PIPELINES / "sd-tiny"
    pipe = StableDiffusionControlNetImg2ImgPipeline(
        vae=AutoencoderKL.from_pretrained(sd / "vae", torch_dtype=torch.float32).eval(),
        text_encoder=CLIPTextModel.from_pretrained(sd / "text_encoder", torch_dtype=torch.float32).eval(),
        tokenizer=CLIPTokenizer.from_pretrained(FIXTURES / "clip-tokenizer"),
        scheduler=PNDMScheduler.from_pretrained(sd / "scheduler"),
        unet=UNet2DConditionModel.from_pretrained(sd / "unet", torch_dtype=torch.float32).eval(),
        controlnet=ControlNetModel.from_pretrained(PIPELINES / "controlnet_tiny", torch_dtype=torch.float32).eval(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    image = Image.open(PIPELINES / "input.png").convert("RGB")
    with torch.no_grad():
        result = pipe(
            prompt=RESTYLE["prompt"], image=image, control_image=Image.fromarray(np.stack([control] * 3, axis=2)),
            strength=RESTYLE["strength"], num_inference_steps=RESTYLE["steps"], guidance_scale=RESTYLE["guidance"],
            controlnet_conditioning_scale=RESTYLE["scale"],
            generator=torch.Generator("cpu").manual_seed(RESTYLE["seed"]),
        ).images[0]
    result.save(OUT / "restyle_depth.png")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    model = build_model()
    keys = save_model(model)
    print(f"{len(keys)} tensors")

    # A 60x45 crop of chelsea (the cat), downscaled by PIL: a non-square photo whose 3x4 patch
    # grid makes the position embeddings interpolate.
    from skimage import data
    photo = Image.fromarray(data.chelsea()).crop((100, 0, 400, 225)).resize((60, 45), Image.Resampling.LANCZOS)
    photo.save(OUT / "image.png")
    image = Image.open(OUT / "image.png").convert("RGB")

    processor = DPTImageProcessorPil(**{k: v for k, v in PROCESSOR.items() if k != "image_processor_type"})
    pixel_values = processor(images=image, return_tensors="pt")["pixel_values"]
    features, neck, depth = run_model(model, pixel_values)
    resized = processor.post_process_depth_estimation(
        type("Output", (), {"predicted_depth": depth})(), target_sizes=[(image.height, image.width)])[0]["predicted_depth"]

    estimator = pipeline("depth-estimation", model=model, image_processor=processor)
    astronaut = Image.open(PIPELINES / "input.png").convert("RGB")
    cases = dict(pixel_values=pixel_values, predicted_depth=depth, resized_depth=resized,
                 control=torch.from_numpy(control_image(estimator, image).astype(np.float32)),
                 astronaut_control=torch.from_numpy(control_image(estimator, astronaut).astype(np.float32)))
    cases.update({f"feature_{i}": f for i, f in enumerate(features)})
    cases.update({f"neck_{i}": n for i, n in enumerate(neck)})
    for height, width in [(42, 56), (56, 56), (70, 28)]:
        embeddings = torch.zeros(1, (height // 14) * (width // 14) + 1, BACKBONE["hidden_size"])
        with torch.no_grad():
            cases[f"pos_{height}x{width}"] = model.backbone.embeddings.interpolate_pos_encoding(embeddings, height, width)
    save_file({k: v.contiguous().float() for k, v in cases.items()}, str(OUT / "cases.safetensors"))
    ops = interpolation_ops()
    for name, filter_, size in PIL_RESIZES:
        resized = np.asarray(image.resize(size, filter_)).astype(np.float32)
        ops[f"pil_{name}_{size[0]}x{size[1]}"] = torch.from_numpy(resized)
    save_file({k: v.contiguous() for k, v in ops.items()}, str(OUT / "ops.safetensors"))
    (OUT / "restyle_case.json").write_text(json.dumps(RESTYLE, indent=2, sort_keys=True) + "\n")
    restyle_reference(control_image(estimator, astronaut))
    print("pixel_values", tuple(pixel_values.shape), "depth", tuple(depth.shape),
          f"range {depth.min().item():.3f}..{depth.max().item():.3f}")


if __name__ == "__main__":
    main()
