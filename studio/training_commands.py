"""`studio data`, `studio train`, `studio train-all` and `studio eval`: flags in, lines out; the work is
studio.train's (and, to generate images for eval and the cascade grid, the engine's)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from studio.core.enums import Role
from studio.core.jobs import TextToImage
from studio.core.paths import default_model_path
from studio.core.settings import Settings
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.model_info import setting_defaults
from studio.engine.pipeline import Pipeline
from studio.images.files import save_png
from studio.images.outputs import check_writable_folder
from studio.images.sequences import tile
from studio.train.all_stages import TrainAllRequest, write_stage_grids
from studio.train.all_stages import train_all as run_train_all
from studio.train.caption_gap import base_caption_gaps
from studio.train.datasets import ImageDataset, load_dataset
from studio.train.emoji import MissingDataError, build_emoji_dataset
from studio.train.evaluation import evaluate, load_judge
from studio.train.loop import TrainProgress
from studio.train.run import TrainRequest, run_training
from studio.train.samples import spread


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
        device=args.device, half=args.half, init=Path(args.init) if args.init else None,
    )
    run = run_training(request, on_progress=_progress,
                       on_skipped=lambda line: print(f"studio: skipped {line}", file=sys.stderr))
    if run.outcome.finished:
        print(f"studio: trained {run.outcome.steps_done} steps; model written to {args.out}", file=sys.stderr)
    else:
        print(f"studio: stopped at step {run.outcome.steps_done}/{run.recipe.steps}; run the same command to "
              f"resume from {run.outcome.checkpoint_path}", file=sys.stderr)
    return 0


def train_all(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_writable_folder(out)
    request = TrainAllRequest(data=Path(args.data), out=out, work=Path(args.work) if args.work else out / "work",
                              device=args.device, budget_minutes=args.budget_minutes, dry_run=args.dry_run,
                              init=Path(args.init) if args.init else None)
    if not request.data.is_file():
        raise ValueError(f"{request.data}: no such dataset file (build one with `studio data emoji`)")
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "train-all.log").open("a", encoding="utf-8")

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        print(f"{time.strftime('%H:%M:%S')} {line}", file=log, flush=True)

    with log:
        results = run_train_all(request, report)
        dataset = load_dataset(request.data)
        for path in write_stage_grids(request, dataset, report):
            report(f"train-all: wrote {path}")
        if (out / "cascade.json").is_file():
            try:  # the models are written: a fault in drawing the grid must not cost them
                report(f"train-all: wrote {_cascade_grid(request, dataset)}")
            except (RuntimeError, ValueError, OSError) as exc:
                report(f"train-all: the cascade grid failed: {exc}")
        for role in (r.role.value for r in results):  # each stage's own log, for the record
            stage_log = request.work / f"{role}.log"
            if stage_log.is_file():
                log.write(f"--- {role} ---\n{stage_log.read_text(encoding='utf-8', errors='replace')}")
    failed = [r.role.value for r in results if r.model is None]
    if failed:
        raise ValueError(f"train-all: {', '.join(failed)} produced no model; see {out / 'train-all.log'}")
    return 0


def _cascade_grid(request: TrainAllRequest, dataset: ImageDataset) -> Path:
    """cascade-grid.png: the whole product path (base → SR at default settings) for 16 training captions
    spread over the data, seeds 0–15, on the training device."""
    prompts = spread(list(dict.fromkeys(dataset.captions)), 16)
    pipeline = Pipeline(ModelCache(choose_device(request.training_device)))
    images = []
    for n, prompt in enumerate(prompts):
        job = TextToImage(str(request.out), Settings(prompt=prompt, seed=n))
        images.append(pipeline.run(job, n, threading.Event(), lambda e: None).images[0])
    return save_png(request.out / "cascade-grid.png", tile(np.stack(images), 4))


def _progress(p: TrainProgress) -> None:
    print(f"step {p.step}/{p.total}  loss {p.loss:.4f}  {p.steps_per_second:.2f} it/s  "
          f"ETA {p.eta_seconds / 60:.1f} min", file=sys.stderr, flush=True)


def eval(args: argparse.Namespace) -> int:  # noqa: A001 - the subcommand's name
    judge = load_judge(args.classifier)
    dataset = load_dataset(Path(args.data))
    label = judge.label_field(dataset)
    images, labels = _generate_per_class(args, dataset, label, judge.class_names)
    report = evaluate(judge, dataset, label, images, labels)
    print(report.summary())
    for line in report.breakdown():
        print(line)
    for gap in base_caption_gaps(args.model or default_model_path(), dataset, seed=args.seed):
        print(gap.line())
    return 0


def _generate_per_class(args: argparse.Namespace, dataset: ImageDataset, label: str,
                        names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` images for each class, from the captions of that class's real images."""
    pipeline = Pipeline(ModelCache(choose_device(args.device)))
    # the model's own defaults (our models' η), as a user gets them; the flags given override them
    base = Settings(**setting_defaults(args.model or default_model_path())).with_(
        steps=args.steps, guidance_scale=args.guidance, cascade=not args.no_cascade, seed=args.seed)
    if args.eta is not None:
        base = base.with_(eta=args.eta)
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
