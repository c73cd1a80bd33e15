"""The original (CompVis / latent-diffusion) key layout of SD checkpoints, and how it maps to
`StableDiffusion`'s tensors.

A checkpoint holds `model.diffusion_model.*` (U-Net), `first_stage_model.*` (autoencoder) and
`cond_stage_model.transformer.text_model.*` (CLIP; older files lack `text_model.`) — or, in SD 2's x4
upscaler, `cond_stage_model.model.*` (OpenCLIP; its `text_projection` and `logit_scale` are not read,
nor the low-res augmentation's schedule buffers `low_scale_model.*`). Everything else —
`model_ema.*` (EMA copies, names without dots: CompVis's own inference config, use_ema: False, does not
read them), schedule buffers such as `alphas_cumprod`, `position_ids` — is not read. The autoencoder's
attention weights are 1×1 convolutions; files that went through diffusers and back store them as
[C, C] matrices, read here as [C, C, 1, 1]. The config comes from the shapes alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from studio.models.sd.config import (
    CLIP_CONTEXT,
    CLIP_VOCAB,
    X4_LATENT_SCALE,
    AutoencoderConfig,
    CLIPTextConfig,
    SD1Config,
    SDUNetConfig,
)

UNET, VAE, TEXT = "model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer."
OPEN_CLIP = "cond_stage_model.model."
_TEXT_MODEL = TEXT + "text_model."
_IGNORED_SUFFIXES = ("embeddings.position_ids", "text_projection", "logit_scale", "attn_mask")
_VAE_ATTENTION = tuple(f"mid.attn_1.{n}.weight" for n in ("q", "k", "v", "proj_out"))

Shape = tuple[int, ...]


def looks_like_sd(names: Iterable[str]) -> bool:
    """Whether a checkpoint's tensor names are latent diffusion's: a U-Net, an autoencoder, a text encoder."""
    names = set(names)
    return (UNET + "input_blocks.0.0.weight" in names and any(n.startswith(VAE) for n in names)
            and any(n.startswith("cond_stage_model.") for n in names))


def looks_like_x4(names: Iterable[str]) -> bool:
    """Whether they are SD 2's x4 upscaler's: latent diffusion's, an OpenCLIP text encoder, a class embedding."""
    names = set(names)
    return looks_like_sd(names) and UNET + "label_emb.weight" in names and any(n.startswith(OPEN_CLIP) for n in names)


def module_key(name: str) -> str | None:
    """The `StableDiffusion` state-dict key a file tensor loads into, or None for tensors not read."""
    if name.endswith(_IGNORED_SUFFIXES):
        return None
    if name.startswith(TEXT) and not name.startswith(_TEXT_MODEL):
        return _TEXT_MODEL + name[len(TEXT):]  # transformers < 4.2 saved CLIPTextModel without `text_model.`
    if name.startswith((UNET, VAE, _TEXT_MODEL, OPEN_CLIP)):
        return name
    return None


def file_shapes(header: Mapping[str, Shape]) -> tuple[dict[str, Shape], dict[str, str]]:
    """({module key: shape}, {module key: file name}) for the tensors that are read."""
    shapes, names = {}, {}
    for name, shape in header.items():
        key = module_key(name)
        if key is None:
            continue
        if key.startswith(VAE) and key.endswith(_VAE_ATTENTION) and len(shape) == 2:
            shape = (*shape, 1, 1)
        shapes[key], names[key] = tuple(shape), name
    return shapes, names


def as_module_tensor(key: str, tensor: torch.Tensor) -> torch.Tensor:
    if key.startswith(VAE) and key.endswith(_VAE_ATTENTION) and tensor.ndim == 2:
        return tensor[:, :, None, None]
    return tensor


def sd1_config(shapes: Mapping[str, Shape]) -> SD1Config:
    """The configuration the shapes imply; ValueError naming what does not fit SD 1.x."""
    try:
        unet = _unet_config(shapes)
        # SD 2.x: OpenCLIP ViT-H's 1024-wide states, linear projections in and out of the transformers
        if unet.linear_projection or unet.context_dim == 1024 or any(k.startswith(OPEN_CLIP) for k in shapes):
            raise ValueError("is a Stable Diffusion 2.x (or later) checkpoint; this studio reads SD 1.x files "
                             "(and SD 2's x4 upscaler)")
        return SD1Config(unet=unet, text=_text_config(shapes), vae=_vae_config(shapes))
    except KeyError as exc:
        raise ValueError(f"is not a complete Stable Diffusion 1.x checkpoint (no tensor {exc.args[0]!r})") from None


def x4_config(shapes: Mapping[str, Shape]) -> SD1Config:
    """The x4 upscaler's configuration the shapes imply; ValueError naming what does not fit it."""
    try:
        config = SD1Config(unet=_unet_config(shapes), text=_open_clip_config(shapes), vae=_vae_config(shapes),
                           latent_scale=X4_LATENT_SCALE, latent_size=128)
    except KeyError as exc:
        raise ValueError(f"is not a complete Stable Diffusion x4 upscaler (no tensor {exc.args[0]!r})") from None
    if not config.upscaler or not config.unet.num_classes:
        raise ValueError(f"has a U-Net of {config.unet.in_channels} input channels and "
                         f"{config.unet.num_classes} noise levels, not the x4 upscaler's latent and low-res "
                         f"image ({config.vae.z_channels + 3}) with a noise-level embedding")
    return config


def expected_shapes(config: SD1Config) -> dict[str, Shape]:
    from studio.models.sd.network import StableDiffusion

    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in StableDiffusion(config).state_dict().items()}


def check_shapes(shapes: Mapping[str, Shape], names: Mapping[str, str], config: SD1Config) -> None:
    """Every tensor the config needs is present with its shape, and nothing unknown sits among them."""
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing:
        raise ValueError(f"missing tensor {missing[0]!r}" + _more(missing))
    if unexpected:
        raise ValueError(f"unexpected tensor {names[unexpected[0]]!r}" + _more(unexpected))
    for key, shape in expected.items():
        if shapes[key] != shape:
            raise ValueError(f"tensor {names[key]!r} has shape {shapes[key]}, expected {shape}")


def _more(items: list[str]) -> str:
    return f" and {len(items) - 1} more" if len(items) > 1 else ""


def _count(shapes: Mapping[str, Shape], prefix: str) -> int:
    """How many numbered children `prefix{i}.` there are."""
    found = {int(k[len(prefix):].split(".")[0]) for k in shapes if k.startswith(prefix)}
    return max(found) + 1 if found else 0


def _unet_config(shapes: Mapping[str, Shape]) -> SDUNetConfig:
    conv_in = shapes[UNET + "input_blocks.0.0.weight"]
    width = conv_in[0]
    blocks = _count(shapes, UNET + "input_blocks.")
    levels = 1 + sum(1 for k in shapes if k.startswith(UNET + "input_blocks.") and k.endswith(".0.op.weight"))
    res_blocks = (blocks - 1 - (levels - 1)) // levels
    first = [1 + level * (res_blocks + 1) for level in range(levels)]  # the first block of each level
    mult = tuple(shapes[UNET + f"input_blocks.{i}.0.out_layers.3.weight"][0] // width for i in first)
    attention = tuple(level for level, i in enumerate(first) if UNET + f"input_blocks.{i}.1.norm.weight" in shapes)
    context = shapes[UNET + "middle_block.1.transformer_blocks.0.attn2.to_k.weight"][1]
    # a first attention reading the prompt (keys as wide as the context, not the level): no self-attention.
    # Where the level is as wide as the context the shapes cannot tell; the x4's level 3 self-attends.
    cross_only = tuple(level for level in attention if width * mult[level] != context and shapes[
        UNET + f"input_blocks.{first[level]}.1.transformer_blocks.0.attn1.to_k.weight"][1] == context)
    label = shapes.get(UNET + "label_emb.weight")
    return SDUNetConfig(in_channels=conv_in[1], out_channels=shapes[UNET + "out.2.weight"][0], model_channels=width,
                        channel_mult=mult, num_res_blocks=res_blocks, attention_levels=attention, context_dim=context,
                        num_classes=label[0] if label else 0, cross_only_levels=cross_only,
                        linear_projection=len(shapes[UNET + "middle_block.1.proj_in.weight"]) == 2)


def _text_config(shapes: Mapping[str, Shape]) -> CLIPTextConfig:
    vocab, width = shapes[_TEXT_MODEL + "embeddings.token_embedding.weight"]
    context = shapes[_TEXT_MODEL + "embeddings.position_embedding.weight"][0]
    if (vocab, context) != (CLIP_VOCAB, CLIP_CONTEXT):
        raise ValueError(f"has a text encoder with {vocab} tokens and {context} positions, not CLIP's "
                         f"{CLIP_VOCAB} and {CLIP_CONTEXT}")
    return CLIPTextConfig(width=width, layers=_count(shapes, _TEXT_MODEL + "encoder.layers."),
                          intermediate=shapes[_TEXT_MODEL + "encoder.layers.0.mlp.fc1.weight"][0])


def _open_clip_config(shapes: Mapping[str, Shape]) -> CLIPTextConfig:
    vocab, width = shapes[OPEN_CLIP + "token_embedding.weight"]
    context = shapes[OPEN_CLIP + "positional_embedding"][0]
    if (vocab, context) != (CLIP_VOCAB, CLIP_CONTEXT):
        raise ValueError(f"has a text encoder with {vocab} tokens and {context} positions, not OpenCLIP's "
                         f"{CLIP_VOCAB} and {CLIP_CONTEXT}")
    return CLIPTextConfig(width=width, layers=_count(shapes, OPEN_CLIP + "transformer.resblocks."),
                          intermediate=shapes[OPEN_CLIP + "transformer.resblocks.0.mlp.c_fc.weight"][0],
                          open_clip=True)


def _vae_config(shapes: Mapping[str, Shape]) -> AutoencoderConfig:
    channels = shapes[VAE + "encoder.conv_in.weight"][0]
    levels = _count(shapes, VAE + "encoder.down.")
    res_blocks = _count(shapes, VAE + "encoder.down.0.block.")
    mult = tuple(shapes[VAE + f"encoder.down.{level}.block.0.conv1.weight"][0] // channels for level in range(levels))
    return AutoencoderConfig(channels=channels, channel_mult=mult, num_res_blocks=res_blocks,
                             z_channels=shapes[VAE + "post_quant_conv.weight"][0],
                             image_channels=shapes[VAE + "encoder.conv_in.weight"][1])
