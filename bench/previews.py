"""What previews cost: the per-step x_t / x̂₀ conversion against the step itself (default-size models).

Runs the default-size cascade twice through the pipeline's sampler: once with the recorder that
makes 8-bit previews and keeps x_t for forking, once with a no-op callback; reports seconds per
step for both and the overhead. Run: python bench/previews.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.default_models import write_default_cascade  # noqa: E402
from studio.core.jobs import TextToImage  # noqa: E402
from studio.core.settings import Settings  # noqa: E402
from studio.engine import pipeline as pipeline_module  # noqa: E402
from studio.engine.cache import ModelCache  # noqa: E402
from studio.engine.device import choose_device  # noqa: E402
from studio.engine.pipeline import Pipeline  # noqa: E402


def timed(pipeline: Pipeline, job) -> float:
    start = time.perf_counter()
    result = pipeline.run(job, 1, threading.Event(), lambda e: None)
    return (time.perf_counter() - start) / max(len(result.frames), 1)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cascade = write_default_cascade(Path(tmp))
        pipeline = Pipeline(ModelCache(choose_device()))
        job = TextToImage(str(cascade), Settings(prompt="red apple", steps=30, sr_steps=20))
        timed(pipeline, job)  # warm-up: loading and first-call costs
        with_previews, without = [], []
        silent = mock.patch.object(pipeline_module._Run, "recorder", lambda self, stage: lambda state: None)
        for _ in range(3):
            with_previews.append(timed(pipeline, job))
            with silent:
                without.append(_timed_silent(pipeline, job))
        a, b = statistics.median(with_previews), statistics.median(without)
        print(f"seconds per step: with previews {a:.4f}, without {b:.4f}; preview overhead {100 * (a / b - 1):+.1f} %")
    return 0


def _timed_silent(pipeline: Pipeline, job) -> float:
    start = time.perf_counter()
    pipeline.run(job, 1, threading.Event(), lambda e: None)
    return (time.perf_counter() - start) / 50  # 30 base + 20 SR steps, though no frames are kept


if __name__ == "__main__":
    sys.exit(main())
