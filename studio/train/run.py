"""One training run from files, as `studio train` asks for it: recipe, data and output named by the user.

The CLI parses flags and prints; everything that touches torch or model files happens here (DESIGN §2:
the CLI imports neither `models` nor torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from studio.core.enums import Role
from studio.models.config import ModelCard
from studio.models.files import load_model, read_model_info, save_model
from studio.train.datasets import ImageDataset, load_dataset
from studio.train.loop import TrainOutcome, TrainProgress, train
from studio.train.recipes import TrainRecipe, load_recipe


@dataclass(frozen=True)
class TrainRequest:
    recipe: str  # a built-in recipe name or a recipe JSON file
    role: Role
    data: Path  # a dataset .npz or a folder of pictures
    out: Path  # the model file written when training finishes
    steps: int | None = None  # overrides the recipe's
    budget_minutes: float | None = None  # overrides the recipe's wall-clock budget
    max_minutes: float | None = None  # stop this part early with a checkpoint
    threads: int | None = None  # CPU threads; None leaves torch's choice
    device: str | None = None  # "cpu", "cuda", "mps"; None picks one
    half: bool = False  # write the final weights as float16
    init: Path | None = None  # fine-tune: start from this model file's weights


@dataclass(frozen=True)
class TrainRun:
    outcome: TrainOutcome
    recipe: TrainRecipe  # as run, with the request's overrides


def run_training(request: TrainRequest, *, on_progress: Callable[[TrainProgress], None],
                 on_skipped: Callable[[str], None]) -> TrainRun:
    """Train or resume; ValueError for a recipe of another role, ModelFileError/OSError for bad files."""
    recipe = _recipe(request)
    if request.threads is not None:
        torch.set_num_threads(max(1, request.threads))
    dataset = load_dataset(request.data)
    for line in dataset.skipped:
        on_skipped(line)
    outcome = train(recipe, dataset, request.out, card=_card(request, recipe, dataset),
                    device=torch.device(request.device) if request.device else None, on_progress=on_progress,
                    max_seconds=None if request.max_minutes is None else request.max_minutes * 60)
    if outcome.finished and request.half:
        halve(request.out)
    return TrainRun(outcome, recipe)


def _recipe(request: TrainRequest) -> TrainRecipe:
    recipe = load_recipe(request.recipe)
    if recipe.role is not request.role:
        raise ValueError(f"recipe {request.recipe!r} trains a {recipe.role.value} model, not {request.role.value}")
    if request.steps is not None:
        recipe = recipe.with_(steps=request.steps)
    if request.budget_minutes is not None:
        recipe = recipe.with_(budget_minutes=request.budget_minutes)
    if request.init is not None:
        recipe = recipe.with_(init_from=str(request.init))
    return recipe


def _card(request: TrainRequest, recipe: TrainRecipe, dataset: ImageDataset) -> ModelCard:
    training = f"recipe {Path(request.recipe).stem}; {recipe.note}."
    if recipe.init_from:
        training = f"{history_before(recipe.init_from)} with {training}"
    return ModelCard(
        name=request.out.stem, description=f"{recipe.role.value} model trained with Diffusion Studio",
        training_data=f"{len(dataset)} images: {dataset.source or request.data}", licence=dataset.licence,
        training=training,
    )


def history_before(init_from: str) -> str:
    """The start of a fine-tune's training line: the history of the weights it started from."""
    start = read_model_info(init_from)
    return f"{start.card.training} Then fine-tuned from {Path(init_from).name} (sha256 {start.sha256[:12]})"


def halve(path: Path) -> None:
    """Rewrite a model file with float16 weights (half the size; the studio computes in float32)."""
    model = load_model(path)
    save_model(path, model.module, model.config, model.card, dtype=torch.float16)
