"""Stable Diffusion 2's x4 upscaler (`x4-upscaler-ema.safetensors`), read in place as a cascade's SR stage.

Latent diffusion (Rombach et al. 2022) at the low-res image's own size: the f = 4 autoencoder's latents
of the 4× larger image are sampled with the low-res RGB image concatenated to them (7 input channels),
v-prediction on √β-linear β from 1e-4 to 0.02, the prompt read by OpenCLIP ViT-H/14. The low-res image
is noised by that same process to its noise level (ImageConcatWithNoiseAugmentation, levels 0 … 350 in
training), and the level is fed to the U-Net as a class label. The studio's `noise_augmentation` a is the
level round(a · 999), as for its own upsamplers (diffusion/cascade.py `aug_timestep`): the reference's
default level 20 is a = 0.02, the highest it was trained with, 350, is a = 0.35.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from studio.core.enums import Architecture, PredictionType, Role, ScheduleKind, VarianceType
from studio.models.config import DiffusionConfig, ModelCard, ModelConfig
from studio.models.families.base import StageSampling
from studio.models.families.sd1 import SD1Family
from studio.models.sd import keys
from studio.models.sd.config import X4_MAX_NOISE_LEVEL

LICENCE = "CreativeML Open RAIL++-M — read the licence on the page you downloaded the file from"
REFERENCE_NOISE_LEVEL = 20  # diffusers' StableDiffusionUpscalePipeline default noise_level
REFERENCE_GUIDANCE = 9.0  # and its default guidance_scale (with the negative prompt as the other half)
LEVELS = 1000


class SDX4Family(SD1Family):
    """SD 1.x's pieces and prompt conditioning (models/families/sd1.py), with the upscaler's file, config,
    noise-level label and sampling."""

    architecture = Architecture.SD_X4

    def recognises(self, names: Iterable[str]) -> bool:
        return keys.looks_like_x4(names)

    def config_from_shapes(self, shapes: Mapping[str, tuple[int, ...]]) -> ModelConfig:
        module_shapes, names = keys.file_shapes(shapes)
        sd = keys.x4_config(module_shapes)
        keys.check_shapes(module_shapes, names, sd)
        return ModelConfig(
            role=Role.SR, resolution=sd.resolution, low_res=sd.latent_size,
            diffusion=DiffusionConfig(schedule=ScheduleKind.SCALED_LINEAR_X4, timesteps=LEVELS,
                                      prediction=PredictionType.V, variance=VarianceType.POSTERIOR),
            architecture=Architecture.SD_X4, sd=sd,
        )

    def card(self, config: ModelConfig, stem: str) -> ModelCard:
        sd = config.sd
        return ModelCard(
            name=stem,
            description=(f"Stable Diffusion x4 upscaler, read in place: latent diffusion at the low-res image's "
                         f"size ({config.low_res} → {config.resolution} px as trained), f = {sd.vae.factor} "
                         f"autoencoder, OpenCLIP text encoder of width {sd.text.width}, U-Net of width "
                         f"{sd.unet.model_channels}, v-prediction"),
            licence=LICENCE,
        )

    def forward(self, module: nn.Module, config: ModelConfig, x: torch.Tensor, t: torch.Tensor, *,
                aug_level: torch.Tensor, **conditioning) -> torch.Tensor:
        return module(x, t, labels=aug_level, **conditioning)  # the noise level is the U-Net's class label

    def sampling(self, config: ModelConfig) -> StageSampling:
        return StageSampling(any_size=True, max_noise_augmentation=X4_MAX_NOISE_LEVEL / (LEVELS - 1),
                             noise_augmentation=REFERENCE_NOISE_LEVEL / LEVELS,
                             guidance_scale=REFERENCE_GUIDANCE)
