"""The config a training run starts from: a named preset, fitted to the data (vocabulary, classes)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.enums import Role
from studio.models.config import ModelConfig
from studio.models.presets import PRESETS
from studio.models.tokenizer import Tokenizer
from studio.train.batches import TrainingData
from studio.train.datasets import ImageDataset
from studio.train.recipes import TrainRecipe


def config_for(recipe: TrainRecipe, data: ImageDataset) -> ModelConfig:
    """The recipe's preset with the tokenizer vocabulary built from the captions (text models) or the
    class names taken from the label (classifiers)."""
    if recipe.model not in PRESETS:
        raise ValueError(f"unknown model preset {recipe.model!r} (known: {', '.join(sorted(PRESETS))})")
    config = PRESETS[recipe.model]()
    if config.role is not recipe.role:
        raise ValueError(f"preset {recipe.model!r} is a {config.role.value} model; "
                         f"the recipe trains a {recipe.role.value} model")
    if config.role is Role.CLASSIFIER:
        if recipe.label not in data.labels:
            raise ValueError(f"the data has no {recipe.label!r} labels (it has: {', '.join(data.labels) or 'none'})")
        classifier = replace(config.classifier, class_names=data.class_names(recipe.label))
        return replace(config, classifier=classifier)
    if config.text is not None:
        vocab = Tokenizer.build(data.captions, max_size=4096).vocab
        config = replace(config, text=replace(config.text, vocab=vocab))
    return config


def to_device(data: ImageDataset, config: ModelConfig, recipe: TrainRecipe, device: torch.device) -> TrainingData:
    """Pixels in [−1, 1] at the model's resolution, on the training device."""
    labels = None
    if config.role is Role.CLASSIFIER:
        labels = torch.from_numpy(data.class_indices(recipe.label)).to(device)
    return TrainingData(model_pixels(data.images, config.resolution).to(device), tuple(data.captions), labels)


def model_pixels(images: np.ndarray, resolution: int) -> torch.Tensor:
    """uint8 [N, H, W, 3] images as float [N, 3, R, R] in [−1, 1], resized as training sees them."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    if pixels.shape[-1] != resolution:
        pixels = F.interpolate(pixels, size=(resolution,) * 2, mode="bicubic", antialias=True).clamp(-1, 1)
    return pixels
