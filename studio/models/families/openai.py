"""OpenAI's families — `adm` (guided-diffusion), `iddpm` (improved-diffusion), `glide` — one class, three
instances: their networks differ only in what their configs say."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from studio.core.enums import Architecture, NetKind, SamplerKind
from studio.models.config import ModelConfig
from studio.models.families.base import Conditioning, StageSampling
from studio.models.openai.convert import build_network, convert
from studio.models.openai.flags import spec_from_flags
from studio.models.openai.presets import PRESETS, Sampling
from studio.models.openai.recognise import recognise

GLIDE_UPSAMPLE_TEMPERATURE = 0.997  # glide-text2im's notebooks: upsample_temp
SUPER_RES_KINDS = (NetKind.SUPER_RES, NetKind.SUPER_RES_INPAINT)
INPAINT_KINDS = (NetKind.INPAINT, NetKind.SUPER_RES_INPAINT)


def network_timesteps(config: ModelConfig, t: torch.Tensor) -> torch.Tensor:
    """What the network receives for original timesteps t: t itself, or improved-diffusion's t·1000/T when
    the file was trained with rescale_timesteps."""
    if config.openai is not None and config.openai.rescale_timesteps:
        return t.float() * (1000.0 / config.diffusion.timesteps)
    return t


class OpenAIFamily:
    def __init__(self, architecture: Architecture) -> None:
        self.architecture = architecture

    def recognises(self, names) -> bool:
        return False  # OpenAI's files are .pt pickles: imported (`studio import`), never read in place

    def file_tensor_names(self, names) -> dict[str, str]:
        return {name: name for name in names}  # an imported file holds the module's state dict as it is

    def module_tensor(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def build_module(self, config: ModelConfig) -> nn.Module:
        return build_network(config)

    def latent_space(self, module: nn.Module, config: ModelConfig) -> None:
        return None  # pixel space

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
        net = config.openai
        paired = negative is not None and net.text is not None  # CFG needs a prompt to drop
        kwargs: dict[str, torch.Tensor] = {}
        if net.text is not None:
            kwargs["tokens"], kwargs["mask"] = module.text.encode_prompts([*prompts, *(negative if paired else ())])
        if net.num_classes and class_labels is not None:
            kwargs["y"] = torch.cat([class_labels, class_labels]) if paired else class_labels
        if extra is not None:
            kwargs["extra"] = torch.cat([extra, extra]) if paired else extra
        return Conditioning(kwargs, paired)

    def sampling(self, config: ModelConfig) -> StageSampling:
        """GLIDE's upsamplers start from 0.997·z on the base output rounded to 8 bits (the notebooks'
        `upsample_temp`, `((samples+1)*127.5).round()/127.5 - 1`); its inpainting models have the known
        pixels forced into x̂₀ before clipping (the notebooks' `denoised_fn`). A file imported as a preset
        brings its authors' guidance scale (GLIDE) or classifier scale (ADM), respacing string and sampler
        (their scripts' `p_sample_loop`, ancestral DDPM with the learned variance, unless `use_ddim`) as the
        settings' defaults."""
        kind = config.openai.kind
        glide_sr = self.architecture is Architecture.GLIDE and kind in SUPER_RES_KINDS
        preset = PRESETS.get(config.openai.preset)
        authors = preset.sampling if preset is not None else None
        return StageSampling(temperature=GLIDE_UPSAMPLE_TEMPERATURE if glide_sr else 1.0, low_res_8bit=glide_sr,
                             known_into_x0=kind in INPAINT_KINDS, low_res_bilinear=kind in SUPER_RES_KINDS,
                             sr_mask_channels=kind is NetKind.SUPER_RES_INPAINT,
                             guidance_scale=authors.guidance_scale if authors and authors.guidance_scale else None,
                             class_guidance=authors.classifier_scale if authors and authors.classifier else None,
                             respacing=authors.respacing if authors else None,
                             sampler=_authors_sampler(authors), eta=0.0 if authors and authors.use_ddim else None)

    def forward(self, module: nn.Module, config: ModelConfig, x: torch.Tensor, t: torch.Tensor,
                **conditioning) -> torch.Tensor:
        """The engine's conventions → the reference's inputs: rescaled timesteps where the file wants them;
        `extra` as the upsampler's low-res image, or a mask-channel model's [mask (1 = regenerate), masked
        image] as GLIDE's inpaint_image and inpaint_mask (1 = known) — both, in that order, for the
        upsampling inpainter; no augmentation-level input."""
        conditioning.pop("aug_level", None)
        extra = conditioning.pop("extra", None)
        kind = config.openai.kind
        if extra is not None and kind is NetKind.SUPER_RES_INPAINT:
            conditioning["low_res"], extra = extra[:, :3], extra[:, 3:]
        if extra is not None and kind in INPAINT_KINDS:
            regenerate, image = extra[:, :1], extra[:, 1:]
            conditioning |= {"inpaint_image": image, "inpaint_mask": 1 - regenerate}
        elif extra is not None and kind is NetKind.SUPER_RES:
            conditioning["low_res"] = extra
        return module(x, network_timesteps(config, t), **conditioning)

    def import_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
        """Recognise the file among this family's presets and convert it."""
        spec = spec_from_flags(self.architecture, recognise(self.architecture, tensors).flags)
        return spec.config, convert(spec, tensors)


def _authors_sampler(authors: Sampling | None) -> SamplerKind | None:
    if authors is None:
        return None
    return SamplerKind.DDIM if authors.use_ddim else SamplerKind.DDPM
