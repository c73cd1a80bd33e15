"""Peak memory and seconds per step of a 512×512 text → image run with a Stable Diffusion 1.5-sized
model of random weights (no real checkpoint is downloaded), through the engine as the CLI runs it.

    python bench/sd_generation.py [--steps 3] [--dtype float32|float16] [--device cpu|cuda] [--keep FILE]

It writes the random model as a checkpoint in the original layout (4.3 GB in float32), generates once
with classifier-free guidance and a negative prompt, and reports the process's peak resident memory
(getrusage) and the median seconds per step; on CUDA (float16 there, whatever the file holds) also the
device's peak allocated memory. Run it alone: the machine's other work skews the times.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from studio.core.events import StepEvent  # noqa: E402
from studio.core.jobs import TextToImage  # noqa: E402
from studio.core.settings import Settings  # noqa: E402
from studio.engine.cache import ModelCache  # noqa: E402
from studio.engine.device import choose_device  # noqa: E402
from studio.engine.pipeline import Pipeline  # noqa: E402
from studio.models.sd.config import SD1Config  # noqa: E402
from studio.models.sd.network import StableDiffusion  # noqa: E402


def write_random_sd15(path: Path, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    module = StableDiffusion(SD1Config())
    save_file({k: v.to(dtype).contiguous() for k, v in module.state_dict().items()}, str(path))
    del module


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--keep", type=Path, help="write (or reuse) the random model here")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.keep or Path(folder.name) / "random-sd15.safetensors"
    if not path.exists():
        write_random_sd15(path, getattr(torch, args.dtype))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    times, last = [], [time.perf_counter()]

    def on_event(event) -> None:
        if isinstance(event, StepEvent):
            now = time.perf_counter()
            times.append(now - last[0])
            last[0] = now

    settings = Settings(prompt="a watercolour of a lighthouse", negative_prompt="blurry", steps=args.steps, seed=1,
                        guidance_scale=7.5)
    choice = choose_device(args.device)
    pipeline = Pipeline(ModelCache(choice))
    start = time.perf_counter()
    result = pipeline.run(TextToImage(str(path), settings), 1, threading.Event(), on_event)
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"SD 1.5-sized random model ({args.dtype} file), 512×512, {args.steps} DDIM steps with CFG, "
          f"{choice.label}, {torch.get_num_threads()} CPU threads")
    print(f"image {result.images.shape[2]}×{result.images.shape[1]}; whole run {total:.1f} s (load, steps, decode)")
    print(f"seconds per step: median {statistics.median(times[1:] or times):.2f} (first {times[0]:.2f})")
    print(f"peak RSS {peak:.2f} GiB (before the run {before:.2f} GiB; target ≤ 8 GB)")
    if choice.device.type == "cuda":
        print(f"peak CUDA memory allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB, "
              f"reserved {torch.cuda.max_memory_reserved() / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
