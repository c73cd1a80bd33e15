"""`studio batch`: a prompts file × seeds into a folder, resumable, never overwriting."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from studio.commands import recipe_differences
from studio.core.jobs import TextToImage
from studio.core.settings import Settings
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.pipeline import Pipeline
from studio.images.files import save_image, save_png
from studio.images.metadata import png_chunks
from studio.images.names import format_name
from studio.images.sequences import tile


@dataclass(frozen=True)
class BatchItem:
    prompt: str
    seed: int
    path: Path


def parse_seeds(text: str) -> list[int]:
    """"1-8", "3,5,9" or a mix ("1-3,10")."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                first, last = part.split("-", 1)
                if int(last) < int(first):
                    raise ValueError
                seeds.extend(range(int(first), int(last) + 1))
            elif part.strip():
                seeds.append(int(part))
    except ValueError:
        raise ValueError(f"bad seed list {text!r}: use forms like 1-8 or 3,5,9") from None
    if not seeds:
        raise ValueError("the seed list is empty")
    return seeds


def read_prompts(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the prompts ({exc})") from None
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise ValueError(f"{path}: no prompts (one per line; # starts a comment)")
    return prompts


def plan(prompts: list[str], seeds: list[int], out: Path, pattern: str, fmt: str,
         settings: Settings) -> list[BatchItem]:
    """One item per (prompt, seed); names that collide within the batch get -2, -3, … suffixes."""
    items, used = [], set()
    for i, (prompt, seed) in enumerate((p, s) for p in prompts for s in seeds):
        stem = format_name(pattern, prompt=prompt, seed=seed, index=i + 1, steps=settings.steps,
                           sampler=settings.sampler.value)
        name, n = f"{stem}.{fmt}", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.{fmt}"
        used.add(name)
        items.append(BatchItem(prompt, seed, out / name))
    return items


def run_batch(args: argparse.Namespace, settings: Settings) -> int:
    out = Path(args.out)
    items = plan(read_prompts(Path(args.prompts)), parse_seeds(args.seeds), out, args.pattern, args.format, settings)
    todo = [item for item in items if not item.path.exists()]
    skipped = len(items) - len(todo)
    if skipped:
        print(f"studio: {skipped} of {len(items)} files already exist and are kept (resuming)", file=sys.stderr)
    pipeline = Pipeline(ModelCache(choose_device(args.device)))
    started, written, thumbs = time.perf_counter(), 0, []
    for n, item in enumerate(todo, 1):
        job = TextToImage(args.model, replace(settings, prompt=item.prompt, seed=item.seed, batch_size=1))
        result = pipeline.run(job, n, threading.Event(), lambda e: None)
        if n == 1:
            for line in recipe_differences(getattr(args, "source_recipe", None), result.recipe):
                print(f"studio: note: {line}", file=sys.stderr)
        chunks = png_chunks(result.recipe) if not args.no_metadata else {}
        save_image(item.path, result.images[0], args.format, chunks)
        written += 1
        thumbs.append(result.images[0])
        elapsed = time.perf_counter() - started
        eta = elapsed / n * (len(todo) - n)
        print(f"batch {n}/{len(todo)}  {item.path.name}  ETA {eta:.0f} s", file=sys.stderr, flush=True)
    if args.grid and thumbs:
        save_png(out / "contact-sheet.png", tile(np.stack(thumbs), columns=8))
    print(f"studio: batch done: {written} written, {skipped} already there, into {out}", file=sys.stderr)
    return 0
