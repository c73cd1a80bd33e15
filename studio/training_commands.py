"""`studio data`, `studio train` and `studio eval`: the command-line side of studio.train."""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from studio.core.enums import Role
from studio.core.jobs import TextToImage
from studio.core.settings import Settings
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.pipeline import Pipeline
from studio.models.config import ModelCard
from studio.models.files import load_model
from studio.train.datasets import load_dataset
from studio.train.emoji import MissingDataError, build_emoji_dataset
from studio.train.loop import TrainProgress
from studio.train.loop import train as run_training
from studio.train.metrics import EvalReport, accuracy, classify, frechet_distance
from studio.train.recipes import load_recipe


def data(args: argparse.Namespace) -> int:
    try:
        count = build_emoji_dataset(Path(args.out), size=args.size, limit=args.limit, skin_tones=args.skin_tones)
    except MissingDataError as exc:
        raise ValueError(str(exc)) from None
    print(f"studio: {count} emoji written to {Path(args.out) / f'emoji-{args.size}.npz'}", file=sys.stderr)
    return 0


def train(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe)
    if recipe.role is not Role(args.role):
        raise ValueError(f"recipe {args.recipe!r} trains a {recipe.role.value} model, not {args.role}")
    if args.steps is not None:
        recipe = recipe.with_(steps=args.steps)
    if args.budget_minutes is not None:
        recipe = recipe.with_(budget_minutes=args.budget_minutes)
    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    dataset = load_dataset(Path(args.data))
    for line in dataset.skipped:
        print(f"studio: skipped {line}", file=sys.stderr)
    device = torch.device(args.device) if args.device else None
    card = ModelCard(
        name=Path(args.out).stem, description=f"{recipe.role.value} model trained with Diffusion Studio",
        training_data=f"{len(dataset)} images: {dataset.source or args.data}", licence=dataset.licence,
        training=f"recipe {args.recipe}; {recipe.note}.",
    )
    outcome = run_training(recipe, dataset, Path(args.out), card=card, device=device, on_progress=_progress,
                           max_seconds=None if args.max_minutes is None else args.max_minutes * 60)
    if outcome.finished:
        if args.half:
            _halve(Path(args.out))
        print(f"studio: trained {outcome.steps_done} steps; model written to {args.out}", file=sys.stderr)
    else:
        print(f"studio: stopped at step {outcome.steps_done}/{recipe.steps}; run the same command to resume "
              f"from {outcome.checkpoint_path}", file=sys.stderr)
    return 0


def _progress(p: TrainProgress) -> None:
    print(f"step {p.step}/{p.total}  loss {p.loss:.4f}  {p.steps_per_second:.2f} it/s  "
          f"ETA {p.eta_seconds / 60:.1f} min", file=sys.stderr, flush=True)


def _halve(path: Path) -> None:
    from studio.models.files import save_model

    model = load_model(path)
    save_model(path, model.module, model.config, model.card, dtype=torch.float16)


def eval(args: argparse.Namespace) -> int:  # noqa: A001 - the subcommand's name
    classifier = load_model(args.classifier)
    if classifier.config.role is not Role.CLASSIFIER:
        raise ValueError(f"{args.classifier} is not a classifier")
    names = classifier.config.classifier.class_names
    dataset = load_dataset(Path(args.data))
    label = next((k for k, v in dataset.labels.items() if set(v) <= set(names)), None)
    if label is None:
        raise ValueError("the data's labels do not match the classifier's classes")
    index = {n: i for i, n in enumerate(names)}
    real_labels = np.array([index[v] for v in dataset.labels[label]])
    real_pred, real_feat = classify(classifier.module, dataset.images)
    images, gen_labels = _generate_per_class(args, dataset, label, names)
    gen_pred, gen_feat = classify(classifier.module, images)
    report = EvalReport(
        real_accuracy=accuracy(real_pred, real_labels), generated_accuracy=accuracy(gen_pred, gen_labels),
        frechet_distance=frechet_distance(gen_feat, real_feat), real_count=len(real_labels),
        generated_count=len(gen_labels), classes=len(set(gen_labels.tolist())),
    )
    print(report.summary())
    return 0


def _generate_per_class(args, dataset, label: str, names) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` images for each class, from the captions of that class's real images."""
    pipeline = Pipeline(ModelCache(choose_device(args.device)))
    base = Settings(steps=args.steps, guidance_scale=args.guidance, cascade=not args.no_cascade, seed=args.seed)
    classes = sorted(set(dataset.labels[label]))[: args.max_classes]
    images, labels = [], []
    for n, cls in enumerate(classes):
        captions = [c for c, v in zip(dataset.captions, dataset.labels[label], strict=True) if v == cls]
        for k in range(args.per_class):
            settings = replace(base, prompt=captions[k % len(captions)], seed=args.seed + k)
            result = pipeline.run(TextToImage(args.model, settings), 1, threading.Event(), lambda e: None)
            images.append(result.images[0])
            labels.append(names.index(cls))
        print(f"eval: generated class {n + 1}/{len(classes)} ({cls})", file=sys.stderr, flush=True)
    return np.stack(images), np.array(labels)
