"""`studio train-all`: a whole cascade in one short GPU lease.

The base, the super-resolution stage and the classifier train at once, as three processes on the one
device (small networks leave a GPU mostly idle; the host's cores feed them), each inside its own
wall-clock budget with a time-based learning-rate schedule. The driver waits with a hard deadline — a
stage still running then is stopped and its last checkpoint's EMA weights become its model — and then
writes float16 model files, a `cascade.json`, 4×4 sample grids and one log to the output folder.
`dry_run` runs the very same path with tiny networks and a few seconds' budget: on the CPU, so GPU time is
never spent finding a typo, and on the GPU as the lease's first half-minute, so a device-only fault stops
the lease before the long run starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

import studio
from studio.core.atomic import atomic_target, atomic_write
from studio.core.enums import Role
from studio.images.files import save_png
from studio.models.cascade import read_cascade
from studio.models.config import ModelCard, ModelConfig
from studio.models.files import build_module, load_model, read_model_info, save_model
from studio.train.checkpoint import load_checkpoint
from studio.train.datasets import ImageDataset
from studio.train.model_setup import to_device
from studio.train.recipes import BUILTIN, TrainRecipe
from studio.train.run import history_before
from studio.train.samples import sample_grid

STAGES = ("gpu-base", "gpu-sr", "gpu-classifier")
# the dry run's networks: the same roles and code paths at a size two CPU cores train in seconds
DRY_RUN_MODELS = {Role.BASE: "dry_base", Role.SR: "dry_sr", Role.CLASSIFIER: "dry_classifier"}
DRY_RUN_MINUTES = 0.1
GRACE_SECONDS = 90.0  # start-up, the last checkpoint and the model file, beyond the training budget
REPORT_EVERY = 30.0


@dataclass(frozen=True)
class TrainAllRequest:
    data: Path  # the dataset .npz (at the SR stage's resolution or above)
    out: Path  # model files, cascade.json, grids and the log
    work: Path  # checkpoints, recipes and each stage's own log
    device: str | None = None  # None: "cuda", or "cpu" for a dry run (a dry run on "cuda" is a pre-flight)
    budget_minutes: float | None = None  # the longest stage's budget (the others keep their share); None: the recipes'
    dry_run: bool = False
    # a cascade (folder or cascade.json) whose base, SR stage and classifier the stages continue from, so
    # that short leases add up instead of each starting afresh
    init: Path | None = None

    @property
    def training_device(self) -> str:
        return self.device or ("cpu" if self.dry_run else "cuda")


@dataclass(frozen=True)
class StageResult:
    role: Role
    model: Path | None  # None: the stage produced nothing usable
    how: str  # one line: finished, stopped at the deadline, failed


Report = Callable[[str], None]


def stage_recipes(request: TrainAllRequest) -> tuple[TrainRecipe, ...]:
    recipes = tuple(BUILTIN[name] for name in STAGES)
    if request.dry_run:
        recipes = tuple(r.with_(model=DRY_RUN_MODELS[r.role], batch_size=8, warmup_steps=5,
                                budget_minutes=DRY_RUN_MINUTES, checkpoint_every=20, log_every=10,
                                sr_crop=min(r.sr_crop, 16),
                                note="dry run: a tiny network on the CPU") for r in recipes)
    if request.budget_minutes is not None:
        scale = request.budget_minutes / max(r.budget_minutes for r in recipes)
        recipes = tuple(r.with_(budget_minutes=r.budget_minutes * scale) for r in recipes)
    if request.init is not None:
        starts = _starting_files(request.init)
        recipes = tuple(r.with_(init_from=str(starts[r.role])) for r in recipes)
    return recipes


def _starting_files(init: Path) -> dict[Role, Path]:
    cascade = read_cascade(init)
    files = {Role.BASE: cascade.base, Role.SR: cascade.sr, Role.CLASSIFIER: cascade.classifier}
    missing = [role.value for role, path in files.items() if path is None]
    if missing:
        raise ValueError(f"{init}: the cascade has no {' or '.join(missing)} model to continue from")
    return files


def train_all(request: TrainAllRequest, report: Report) -> tuple[StageResult, ...]:
    """Train the three stages at once; returns what each produced (model files in `request.out`)."""
    # the stages run with the package's folder as their working directory: a relative path would name
    # another file there than the one the user meant
    request = replace(request, data=request.data.resolve(), out=request.out.resolve(), work=request.work.resolve(),
                      init=request.init.resolve() if request.init is not None else None)
    device = request.training_device
    request.out.mkdir(parents=True, exist_ok=True)
    request.work.mkdir(parents=True, exist_ok=True)
    recipes = stage_recipes(request)
    threads = max(1, (os.cpu_count() or 3) // len(recipes))
    started = time.monotonic()
    running = {r.role: _launch(name, r, request, device, threads) for name, r in zip(STAGES, recipes, strict=True)}
    report(f"train-all: {', '.join(STAGES)} started on {device}, {threads} CPU thread(s) each, "
           f"budgets {', '.join(f'{r.budget_minutes:.2f}' for r in recipes)} min")
    deadline = started + 60 * max(r.budget_minutes for r in recipes) + GRACE_SECONDS
    _wait(running, request.work, deadline, report)
    results = tuple(_collect(r, request) for r in recipes)
    for result in results:
        report(f"train-all: {result.role.value}: {result.how}")
    report(f"train-all: all stages done in {(time.monotonic() - started) / 60:.1f} min")
    if all(r.model is not None for r in results):
        _write_cascade(request.out, request.dry_run)
    return results


def _launch(stage: str, recipe: TrainRecipe, request: TrainAllRequest, device: str,
            threads: int) -> subprocess.Popen:
    name = recipe.role.value
    recipe_file = request.work / f"{stage}.json"  # named for the stage: the model card quotes it
    _write_text(recipe_file, recipe.to_json())
    command = [sys.executable, "-m", "studio", "train", "--role", name, "--recipe", str(recipe_file),
               "--data", str(request.data), "--out", str(request.work / f"{name}.safetensors"),
               "--device", device, "--threads", str(threads), "--half"]
    root = str(Path(studio.__file__).resolve().parents[1])  # so the children import this very code
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
                        "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(threads)}
    log = (request.work / f"{name}.log").open("w", encoding="utf-8")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)


def _wait(running: dict[Role, subprocess.Popen], work: Path, deadline: float, report: Report) -> None:
    next_report = time.monotonic() + REPORT_EVERY
    while any(p.poll() is None for p in running.values()):
        now = time.monotonic()
        if now > deadline:
            for role, process in running.items():
                if process.poll() is None:
                    report(f"train-all: {role.value} ran past the deadline; stopping it")
                    process.terminate()
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
            return
        if now >= next_report:
            for role in running:
                report(f"train-all: {role.value}: {_last_line(work / f'{role.value}.log')}")
            next_report = now + REPORT_EVERY
        time.sleep(1.0)


def _last_line(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines() if log.is_file() else []
    return lines[-1] if lines else "(no output yet)"


def _collect(recipe: TrainRecipe, request: TrainAllRequest) -> StageResult:
    """The stage's model file in `out`: as trained, or from its last checkpoint's EMA weights."""
    name = recipe.role.value
    trained, target = request.work / f"{name}.safetensors", request.out / f"{name}.safetensors"
    checkpoint = trained.with_suffix(".ckpt.safetensors")
    if trained.is_file():  # already float16 (the stage ran with --half): copied as it is
        with atomic_target(target) as tmp:
            shutil.copyfile(trained, tmp)
        return StageResult(recipe.role, target, f"finished ({read_model_info(target).card.training})")
    if checkpoint.is_file():
        ckpt = load_checkpoint(checkpoint)
        config = ModelConfig.from_json(ckpt.config_json)
        module = build_module(config)
        module.load_state_dict({k: v.float() for k, v in ckpt.ema.items()})
        training = (f"stopped at the deadline after {ckpt.step} steps of batch {recipe.batch_size}, "
                    f"{ckpt.elapsed / 60:.1f} min; EMA weights of the last checkpoint")
        if recipe.init_from:
            training = f"{history_before(recipe.init_from)}: {training}"
        card = ModelCard(name=name, description=f"{name} model trained with Diffusion Studio (train-all)",
                         training=training)
        save_model(target, module, config, card, dtype=torch.float16)
        return StageResult(recipe.role, target, card.training)
    return StageResult(recipe.role, None, f"failed: {_last_line(request.work / f'{name}.log')}")


def _write_cascade(out: Path, dry_run: bool) -> None:
    cascade = {"name": "Emoji (dry run)" if dry_run else "Emoji (GPU, 32→128 px)", "base": "base.safetensors",
               "sr": "sr.safetensors", "classifier": "classifier.safetensors"}
    _write_text(out / "cascade.json", json.dumps(cascade, indent=1) + "\n")


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def write_stage_grids(request: TrainAllRequest, dataset: ImageDataset, report: Report) -> list[Path]:
    """base-grid.png (16 captions spread over the data) and sr-grid.png (the SR stage on those captions'
    real low-res images), each 4×4, from the float16 files as shipped; the classifier's accuracy on the
    real images goes to the report. On the training device, falling back to the CPU."""
    written = []
    for role in (Role.BASE, Role.SR, Role.CLASSIFIER):
        path = request.out / f"{role.value}.safetensors"
        if not path.is_file():
            continue
        for device in dict.fromkeys([request.training_device, "cpu"]):
            try:
                written += _stage_check(role, path, dataset, torch.device(device), request.out, report)
                break
            except (RuntimeError, ValueError) as exc:
                report(f"train-all: {role.value} check on {device} failed: {exc}")
    return written


def _stage_check(role: Role, path: Path, dataset: ImageDataset, device: torch.device, out: Path,
                 report: Report) -> list[Path]:
    model = load_model(path, device=device)  # float32, as the studio computes
    module = model.module
    recipe = next(BUILTIN[n] for n in STAGES if BUILTIN[n].role is role)  # its label is the classifier's
    data = to_device(dataset, model.config, recipe, device)
    if role is Role.CLASSIFIER:
        correct = 0
        with torch.no_grad():
            for rows in torch.arange(len(dataset), device=device).split(256):
                logits = module(data.pixels[rows], torch.zeros(len(rows), dtype=torch.long, device=device))
                correct += int((logits.argmax(1) == data.labels[rows]).sum())
        report(f"train-all: classifier accuracy on the {len(dataset)} real images (t = 0): "
               f"{correct / len(dataset):.3f}")
        return []
    grid = sample_grid(module, model.config, data)
    return [save_png(out / f"{role.value}-grid.png", grid)]

