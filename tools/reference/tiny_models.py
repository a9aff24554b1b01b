"""What the fixture scripts share to build and load their tiny random diffusers models.

Each model is built by its real diffusers / transformers class at toy widths, initialised from
torch's global generator at a fixed seed, with its norms perturbed from a second one. Weights are
rounded to f16 before a reference runs (the models run in f32) and saved as f16, so the committed
files hold exactly the weights that produced the outputs.
"""
import torch
from diffusers import AutoencoderKL, ControlNetModel, PNDMScheduler, UNet2DConditionModel
from fixture_io import FIXTURES, write_json
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

PIPELINES = FIXTURES / "pipelines"
SD_TINY = PIPELINES / "sd-tiny"
TOKENIZER = FIXTURES / "clip-tokenizer"
# The _diffusers_version the written folders carry: requirements.txt's diffusers.
DIFFUSERS_VERSION = "0.42.1"


def round_to_half(model):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
    return model


def perturb_norms(model, generator):
    """Default init leaves norms at weight 1, bias 0; perturb them so a wrong one shows."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                noise = torch.randn(parameter.shape, generator=generator) * 0.1
                parameter.copy_(1 + noise if name.endswith("weight") else noise)


def seeded_model(factory, seed, norm_seed, *args, **kwargs):
    """`factory(*args, **kwargs)` initialised from torch's global generator at `seed` (the
    diffusers and transformers classes draw their initial weights from it), in eval mode, with
    its norms perturbed from `norm_seed`; not yet rounded to f16."""
    torch.manual_seed(seed)
    model = factory(*args, **kwargs).eval()
    perturb_norms(model, torch.Generator().manual_seed(norm_seed))
    return model


def clip_text_config(hidden_size, num_hidden_layers, **settings):
    """A toy-width CLIPTextConfig that keeps what the real tokenizer's ids need: CLIP's whole
    49408-token vocabulary and 77 positions, and SD's eos_token_id 2 / pad_token_id 1; 2 heads, a
    feed-forward twice the width. `settings`: projection_dim, hidden_act, bos_token_id."""
    return CLIPTextConfig(
        vocab_size=49408, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_hidden_layers, num_attention_heads=2, max_position_embeddings=77,
        layer_norm_eps=1e-5, eos_token_id=2, pad_token_id=1, **settings,
    )


def tiny_vae(seed, norm_seed, block_out_channels=(8, 8, 16, 16), **config):
    """A seeded_model AutoencoderKL of RGB images with one resnet a block and 4 latent channels;
    one block a width in `block_out_channels` (4 blocks: vae_scale_factor 8, as in SD)."""
    blocks = len(block_out_channels)
    return seeded_model(
        AutoencoderKL, seed, norm_seed, in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * blocks, up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=block_out_channels, layers_per_block=1, latent_channels=4, norm_num_groups=4,
        sample_size=64, **config,
    )


def carry_image_through(vae):
    """A random encoder's posterior is about N(mean, 1): its sample would be mostly noise and the
    outputs would hardly depend on the input image. Narrow it (logvar -12) and widen the mean so
    the image carries through, as with a trained VAE."""
    with torch.no_grad():
        vae.quant_conv.weight[:4] *= 8
        vae.quant_conv.bias[4:] = -12
    return vae


def randomize_controlnet(model, generator, zero_init):
    """Perturb the norms (default weight 1, bias 0), give the conditioning embedding He-scaled
    weights (with the default init its signal fades over its eight layers and the control image
    would barely change the residuals) and the zero-initialised parameters named by the
    prefixes `zero_init` random ones."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                noise = torch.randn(parameter.shape, generator=generator) * 0.1
                parameter.copy_(1 + noise if name.endswith("weight") else noise)
            elif name.startswith("controlnet_cond_embedding") and name.endswith("weight"):
                fan_in = parameter[0].numel()
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * (2 / fan_in) ** 0.5)
            elif name.startswith(zero_init):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)


def controlnet_from_unet(unet, seed, embedding_channels, zero_init, generator):
    """ControlNetModel.from_unet(unet) with the conditioning embedding widths `embedding_channels`,
    not copying the UNet's weights: initialised from torch's global generator at `seed`, then
    randomize_controlnet(generator, zero_init); not yet rounded to f16."""
    torch.manual_seed(seed)
    model = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=embedding_channels, load_weights_from_unet=False
    ).eval()
    randomize_controlnet(model, generator, zero_init)
    return model


def save_half(model, folder):
    model.half().save_pretrained(folder, safe_serialization=True)
    model.float()


def write_pipeline_folder(folder, index, schedulers, models):
    """A diffusers pipeline folder as save_pretrained lays one out: model_index.json (`index`),
    <name>/scheduler_config.json for each of `schedulers` ({name: config}, of the class `index`
    names) and each of `models` ({name: model}) saved as f16."""
    for name, config in schedulers.items():
        (folder / name).mkdir(parents=True)
        write_json(folder / name / "scheduler_config.json",
                   dict(config, _class_name=index[name][1], _diffusers_version=DIFFUSERS_VERSION))
    for name, model in models.items():
        save_half(model, folder / name)
    write_json(folder / "model_index.json", dict(index, _diffusers_version=DIFFUSERS_VERSION))


def load_f32(folder, **classes):
    """{name: classes[name].from_pretrained(folder / name)} in f32 and eval mode."""
    return {name: cls.from_pretrained(folder / name, torch_dtype=torch.float32).eval()
            for name, cls in classes.items()}


def sd_tiny_components(unet: str = "unet") -> dict:
    """sd-tiny's components in f32, as keyword arguments of a Stable Diffusion pipeline;
    `unet` names the UNet folder of pipelines/ ("unet-inpaint") or sd-tiny's own."""
    f32 = dict(torch_dtype=torch.float32)
    unet_folder = SD_TINY / "unet" if unet == "unet" else PIPELINES / unet
    return dict(
        vae=AutoencoderKL.from_pretrained(SD_TINY / "vae", **f32).eval(),
        text_encoder=CLIPTextModel.from_pretrained(SD_TINY / "text_encoder", **f32).eval(),
        tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER),
        unet=UNet2DConditionModel.from_pretrained(unet_folder, **f32).eval(),
        scheduler=PNDMScheduler.from_pretrained(SD_TINY / "scheduler"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
