"""Stable Diffusion 1.x: checkpoints in the original latent-diffusion layout, read in place.

The file has no studio metadata; the family recognises it by its tensor names, derives the config from
the shapes (models/sd/keys.py), and says its latent space — the engine samples latents and decodes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from studio.core.enums import Architecture, PredictionType, Role, ScheduleKind, VarianceType
from studio.core.paths import clip_merges_path
from studio.models.config import DiffusionConfig, ModelCard, ModelConfig
from studio.models.families.base import Conditioning, LatentSpace, StageSampling
from studio.models.sd import keys
from studio.models.sd.bpe import CLIPTokenizer
from studio.models.sd.network import StableDiffusion

LICENCE = ("CreativeML OpenRAIL-M for Stable Diffusion 1.x and most of its fine-tunes — read the licence on "
           "the page you downloaded the file from")


@functools.lru_cache(maxsize=1)
def clip_tokenizer() -> CLIPTokenizer:
    """Built once per process: reading and ranking 48 894 merges takes a noticeable fraction of a second."""
    return CLIPTokenizer(clip_merges_path())


class SD1Family:
    architecture = Architecture.SD1

    def recognises(self, names: Iterable[str]) -> bool:
        return keys.looks_like_sd(names)

    def config_from_shapes(self, shapes: Mapping[str, tuple[int, ...]]) -> ModelConfig:
        """The config of a checkpoint with these (file name → shape) tensors; ValueError when they do not
        make an SD 1.x model, naming the tensor."""
        module_shapes, names = keys.file_shapes(shapes)
        sd = keys.sd1_config(module_shapes)
        keys.check_shapes(module_shapes, names, sd)
        return ModelConfig(
            role=Role.INPAINT if sd.inpainting else Role.BASE, resolution=sd.resolution,
            diffusion=DiffusionConfig(schedule=ScheduleKind.SCALED_LINEAR, timesteps=1000,
                                      prediction=PredictionType.EPSILON, variance=VarianceType.POSTERIOR),
            architecture=Architecture.SD1, sd=sd,
        )

    def card(self, config: ModelConfig, stem: str) -> ModelCard:
        sd = config.sd
        kind = "inpainting model (9 input channels)" if sd.inpainting else "text-to-image model"
        return ModelCard(
            name=stem,
            description=(f"Stable Diffusion 1.x {kind}, read in place: latent diffusion at "
                         f"{sd.latent_size}×{sd.latent_size}×{sd.vae.z_channels} latents ({sd.resolution} px), "
                         f"CLIP text encoder of width {sd.text.width}, U-Net of width {sd.unet.model_channels}"),
            licence=LICENCE,
        )

    def file_tensor_names(self, names: Iterable[str]) -> dict[str, str]:
        """{file name: module key} of the tensors that are loaded (EMA copies and buffers are not)."""
        return {name: key for name in names if (key := keys.module_key(name)) is not None}

    def module_tensor(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        return keys.as_module_tensor(key, tensor)

    def build_module(self, config: ModelConfig) -> nn.Module:
        return StableDiffusion(config.sd, clip_tokenizer())

    def conditioning(
        self,
        module: nn.Module,
        config: ModelConfig,
        prompts: Sequence[str],
        negative: Sequence[str] | None = None,
        *,
        class_labels: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
        aug_level: torch.Tensor | None = None,
    ) -> Conditioning:
        paired = negative is not None
        kwargs = {"context": module.encode_prompts([*prompts, *(negative if paired else ())])}
        if extra is not None:
            kwargs["extra"] = torch.cat([extra, extra]) if paired else extra
        return Conditioning(kwargs, paired)

    def latent_space(self, module: nn.Module, config: ModelConfig) -> LatentSpace:
        sd = config.sd
        return LatentSpace(sd.vae.z_channels, sd.vae.factor, module.encode_images, module.decode_latents,
                           module.preview_latents)

    def import_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
        raise ValueError("Stable Diffusion checkpoints are read in place from their .safetensors file")

    def forward(self, module: nn.Module, config: ModelConfig, x: torch.Tensor, t: torch.Tensor,
                **conditioning) -> torch.Tensor:
        return module(x, t, **conditioning)

    def sampling(self, config: ModelConfig) -> StageSampling:
        return StageSampling()  # the studio's own sampling; the user's scales stay
