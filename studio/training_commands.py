"""`studio data`, `studio train` and `studio eval`: flags in, lines out; the work is studio.train's (and, to
generate images for eval, the engine's)."""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from studio.core.enums import Role
from studio.core.jobs import TextToImage
from studio.core.settings import Settings
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.pipeline import Pipeline
from studio.images.outputs import check_writable_folder
from studio.train.datasets import ImageDataset, load_dataset
from studio.train.emoji import MissingDataError, build_emoji_dataset
from studio.train.evaluation import evaluate, load_judge
from studio.train.loop import TrainProgress
from studio.train.run import TrainRequest, run_training


def data(args: argparse.Namespace) -> int:
    check_writable_folder(Path(args.out))
    try:
        count = build_emoji_dataset(Path(args.out), size=args.size, limit=args.limit, skin_tones=args.skin_tones)
    except MissingDataError as exc:
        raise ValueError(str(exc)) from None
    print(f"studio: {count} emoji written to {Path(args.out) / f'emoji-{args.size}.npz'}", file=sys.stderr)
    return 0


def train(args: argparse.Namespace) -> int:
    check_writable_folder(Path(args.out).parent)  # before hours of training, not after
    request = TrainRequest(
        recipe=args.recipe, role=Role(args.role), data=Path(args.data), out=Path(args.out), steps=args.steps,
        budget_minutes=args.budget_minutes, max_minutes=args.max_minutes, threads=args.threads,
        device=args.device, half=args.half,
    )
    run = run_training(request, on_progress=_progress,
                       on_skipped=lambda line: print(f"studio: skipped {line}", file=sys.stderr))
    if run.outcome.finished:
        print(f"studio: trained {run.outcome.steps_done} steps; model written to {args.out}", file=sys.stderr)
    else:
        print(f"studio: stopped at step {run.outcome.steps_done}/{run.recipe.steps}; run the same command to "
              f"resume from {run.outcome.checkpoint_path}", file=sys.stderr)
    return 0


def _progress(p: TrainProgress) -> None:
    print(f"step {p.step}/{p.total}  loss {p.loss:.4f}  {p.steps_per_second:.2f} it/s  "
          f"ETA {p.eta_seconds / 60:.1f} min", file=sys.stderr, flush=True)


def eval(args: argparse.Namespace) -> int:  # noqa: A001 - the subcommand's name
    judge = load_judge(args.classifier)
    dataset = load_dataset(Path(args.data))
    label = judge.label_field(dataset)
    images, labels = _generate_per_class(args, dataset, label, judge.class_names)
    print(evaluate(judge, dataset, label, images, labels).summary())
    return 0


def _generate_per_class(args: argparse.Namespace, dataset: ImageDataset, label: str,
                        names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
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
