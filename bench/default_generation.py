"""Seconds for one default generation with the shipped cascade: text → image at default settings
(base 30 DDIM steps with classifier-free guidance, then the SR stage's steps), on this machine, with the
settings the studio opens the model with (its own η and SR start, see DiffusionConfig).

    python bench/default_generation.py [--model PATH] [--rounds 5]

The first run also loads the models (reported apart); the figure is the median of the rest, measured
in one process with the prompts of the README grid.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.jobs import TextToImage  # noqa: E402
from studio.core.paths import default_model_path  # noqa: E402
from studio.core.settings import Settings, Stage  # noqa: E402
from studio.engine.cache import ModelCache  # noqa: E402
from studio.engine.device import choose_device  # noqa: E402
from studio.engine.model_info import setting_defaults  # noqa: E402
from studio.engine.pipeline import Pipeline  # noqa: E402

PROMPTS = ("grinning face", "red apple", "cat face", "rocket", "green apple face")
TARGETS = {128: 8, 64: 5}  # seconds on the 2-core CPU: the GPU cascade (32→128) and the CPU starter (16→64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pipeline = Pipeline(ModelCache(choose_device(None)))
    times = []
    for n in range(args.rounds + 1):
        # every other setting as the studio opens the model: its defaults, then the settings' own
        settings = Settings(**setting_defaults(args.model)).with_(prompt=PROMPTS[n % len(PROMPTS)], seed=n)
        started = time.perf_counter()
        result = pipeline.run(TextToImage(args.model, settings), n, threading.Event(), lambda event: None)
        times.append(time.perf_counter() - started)
    size = result.images.shape[1]
    sr_steps = sum(1 for frame in result.frames if frame.stage is Stage.SR)
    print(f"first run (loads the models): {times[0]:.2f} s")
    print(f"default generation ({settings.steps} base + {sr_steps} SR steps, η {settings.eta:g}, {size}×{size} px): "
          f"median {statistics.median(times[1:]):.2f} s over {args.rounds} runs "
          f"(min {min(times[1:]):.2f}, max {max(times[1:]):.2f}); target ≤ {TARGETS.get(size, '?')} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
