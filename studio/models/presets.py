"""Named model configs: the shipped cascade's shapes, and tiny ones for tests and smoke runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from studio.core.enums import PredictionType, Role, TextPooling
from studio.models.config import ClassifierConfig, DiffusionConfig, ModelConfig, TextEncoderConfig, UNetConfig
from studio.models.tokenizer import SPECIALS

# The GPU and CPU cascades train for minutes: they sample with η = 1, and their SR stages start from the
# noised upsample at 0.8 of the chain (DiffusionConfig.sample_eta, .sample_strength; docs/training.md §GPU).
# The SR stages predict v (Salimans & Ho 2022): x̂₀ stays well-posed where ᾱ → 0, so the colours the
# low-res image fixes are kept from the first step (Imagen's reason for v in its upsamplers).
BRIEFLY_TRAINED = DiffusionConfig(sample_eta=1.0)
BRIEFLY_TRAINED_SR = DiffusionConfig(prediction=PredictionType.V, sample_eta=1.0, sample_strength=0.8)

TINY_VOCAB = (*SPECIALS, "red", "green", "blue", "apple", "face", "cat", "heart", "star")


def gpu_base_config(vocab: Sequence[str] = TINY_VOCAB) -> ModelConfig:
    """The GPU cascade's base: 32×32, text-conditioned, attention at 8×8; 7.8 M parameters with the emoji
    vocabulary, so its float16 file stays under 16 MiB (docs/training.md §GPU)."""
    text = TextEncoderConfig(vocab=tuple(vocab), width=128, layers=2, heads=4, max_length=24,
                             pooling=TextPooling.MEAN)
    unet = UNetConfig(model_channels=64, channel_mult=(1, 2, 2), num_res_blocks=2,
                      attention_resolutions=(8,), num_head_channels=32, resolution=32, text_dim=128)
    return ModelConfig(role=Role.BASE, resolution=32, diffusion=BRIEFLY_TRAINED, unet=unet, text=text)


def gpu_sr_config(vocab: Sequence[str] = TINY_VOCAB) -> ModelConfig:
    """The GPU cascade's super-resolution stage: 32 → 128, no attention (the low-res image already says
    where everything goes), 3.3 M parameters."""
    text = TextEncoderConfig(vocab=tuple(vocab), width=64, layers=1, heads=2, max_length=24,
                             pooling=TextPooling.MEAN)
    unet = UNetConfig(extra_channels=3, model_channels=32, channel_mult=(1, 2, 2, 4), num_res_blocks=1,
                      attention_resolutions=(), num_head_channels=32, resolution=128,
                      text_dim=64, aug_level_embedding=True)
    return ModelConfig(role=Role.SR, resolution=128, diffusion=BRIEFLY_TRAINED_SR, unet=unet, text=text, low_res=32)


def gpu_classifier_config(class_names: Sequence[str] = ("a", "b")) -> ModelConfig:
    """The GPU cascade's noise-aware classifier at the base's 32×32, 1.2 M parameters."""
    classifier = ClassifierConfig(model_channels=32, channel_mult=(1, 2, 4), num_res_blocks=1,
                                  attention_resolutions=(8,), resolution=32, class_names=tuple(class_names))
    return ModelConfig(role=Role.CLASSIFIER, resolution=32, classifier=classifier)


def cpu_base_config(vocab: Sequence[str] = TINY_VOCAB, resolution: int = 16) -> ModelConfig:
    """The CPU starter's base: small enough to train on two cores within the hour (docs/training.md)."""
    text = TextEncoderConfig(vocab=tuple(vocab), width=128, layers=2, heads=4, max_length=16)
    deep = resolution <= 24  # at 32 px one block per level keeps the step time near the 16 px one's
    unet = UNetConfig(model_channels=32, channel_mult=(1, 2, 4), num_res_blocks=2 if deep else 1,
                      attention_resolutions=tuple(r for r in (resolution // 2, resolution // 4) if r <= 12),
                      num_head_channels=32, resolution=resolution, text_dim=128)
    return ModelConfig(role=Role.BASE, resolution=resolution, diffusion=BRIEFLY_TRAINED, unet=unet, text=text)


def cpu_sr_config(vocab: Sequence[str] = TINY_VOCAB, low_res: int = 16, resolution: int = 64) -> ModelConfig:
    """The CPU starter's super-resolution stage: no attention, one block per level."""
    text = TextEncoderConfig(vocab=tuple(vocab), width=64, layers=1, heads=2, max_length=16)
    unet = UNetConfig(extra_channels=3, model_channels=32, channel_mult=(1, 2, 2), num_res_blocks=1,
                      attention_resolutions=(), num_head_channels=32, resolution=resolution, text_dim=64,
                      aug_level_embedding=True)
    return ModelConfig(role=Role.SR, resolution=resolution, diffusion=BRIEFLY_TRAINED_SR, unet=unet, text=text,
                       low_res=low_res)


def cpu_classifier_config(class_names: Sequence[str] = ("a", "b"), resolution: int = 16) -> ModelConfig:
    classifier = ClassifierConfig(model_channels=32, channel_mult=(1, 2, 2), num_res_blocks=1,
                                  attention_resolutions=(), resolution=resolution, class_names=tuple(class_names))
    return ModelConfig(role=Role.CLASSIFIER, resolution=resolution, classifier=classifier)


def tiny_base_config(vocab: Sequence[str] = TINY_VOCAB, resolution: int = 16, **unet) -> ModelConfig:
    text = TextEncoderConfig(vocab=tuple(vocab), width=32, layers=1, heads=2, max_length=12)
    u = dict(model_channels=32, channel_mult=(1, 2), num_res_blocks=1, attention_resolutions=(8,),
             num_head_channels=32, resolution=resolution, text_dim=32) | unet
    return ModelConfig(role=Role.BASE, resolution=resolution, unet=UNetConfig(**u), text=text)


def tiny_sr_config(vocab: Sequence[str] = TINY_VOCAB, low_res: int = 16, resolution: int = 32) -> ModelConfig:
    text = TextEncoderConfig(vocab=tuple(vocab), width=32, layers=1, heads=2, max_length=12)
    unet = UNetConfig(extra_channels=3, model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
                      attention_resolutions=(), num_head_channels=32, resolution=resolution, text_dim=32,
                      aug_level_embedding=True)
    return ModelConfig(role=Role.SR, resolution=resolution, unet=unet, text=text, low_res=low_res)


def tiny_classifier_config(class_names: Sequence[str] = ("a", "b", "c"), resolution: int = 16) -> ModelConfig:
    classifier = ClassifierConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
                                  attention_resolutions=(), resolution=resolution,
                                  class_names=tuple(class_names))
    return ModelConfig(role=Role.CLASSIFIER, resolution=resolution, classifier=classifier)


def dry_run_config(real: Callable[..., ModelConfig], tiny: Callable[..., ModelConfig]) -> Callable[..., ModelConfig]:
    """A tiny network with the real preset's diffusion process and text pooling: `train-all --dry-run` then
    walks the very code paths (prediction target, sampling hints) the real run will."""

    def config(*args, **kwargs) -> ModelConfig:
        small, big = tiny(*args, **kwargs), real()
        text = replace(small.text, pooling=big.text.pooling) if small.text else None
        return replace(small, diffusion=big.diffusion, text=text)

    return config


PRESETS: dict[str, Callable[..., ModelConfig]] = {
    "cpu_base_16": partial(cpu_base_config, resolution=16),
    "cpu_base_24": partial(cpu_base_config, resolution=24),
    "cpu_base_32": partial(cpu_base_config, resolution=32),
    "cpu_sr_16": partial(cpu_sr_config, low_res=16),
    "cpu_sr_24": partial(cpu_sr_config, low_res=24),
    "cpu_sr_32": partial(cpu_sr_config, low_res=32),
    "cpu_classifier_16": partial(cpu_classifier_config, resolution=16),
    "cpu_classifier_24": partial(cpu_classifier_config, resolution=24),
    "cpu_classifier_32": partial(cpu_classifier_config, resolution=32),
    "gpu_base_32": gpu_base_config,
    "gpu_sr_128": gpu_sr_config,
    "gpu_classifier_32": gpu_classifier_config,
    "tiny_base": tiny_base_config,
    "tiny_sr": tiny_sr_config,
    "tiny_classifier": tiny_classifier_config,
    "dry_base": dry_run_config(gpu_base_config, tiny_base_config),
    "dry_sr": dry_run_config(gpu_sr_config, tiny_sr_config),
    "dry_classifier": dry_run_config(gpu_classifier_config, tiny_classifier_config),
}
