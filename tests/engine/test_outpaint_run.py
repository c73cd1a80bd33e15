"""An Outpaint job run through `WithOutpaint`: inpainting jobs, one per window, reported as one run."""

import threading

import numpy as np
import pytest

from studio.core.events import JobStarted, StepEvent
from studio.core.jobs import Inpaint, Outpaint, TextToImage
from studio.core.settings import Settings
from studio.engine.outpaint import WithOutpaint
from studio.engine.worker import JobCancelledError
from tests.app.fakes import SIZE, FakeRunner


def _job(**settings) -> Outpaint:
    image = np.full((SIZE, SIZE, 3), 200, np.uint8)
    return Outpaint("m", Settings(seed=41, steps=3, **settings), image, (4, 0, 0, 4), SIZE, SIZE // 2)


def test_each_window_is_an_inpainting_job_of_the_model_size_with_its_own_seed_and_only_new_pixels_masked():
    inner = FakeRunner(steps=3)
    result = WithOutpaint(inner).run(_job(cascade=True), 7, threading.Event(), lambda e: None)
    assert result.images.shape == (1, SIZE + 4, SIZE + 4, 3)
    assert (result.recipe.width, result.recipe.height) == (SIZE + 4, SIZE + 4)
    assert result.recipe.settings.seed == 41 and not result.recipe.settings.cascade  # the run's, not a window's
    # 12×12 with 8-px windows at stride 4: starts (0, 4) each way; the window holding the whole image
    # (top 0, left 4) has nothing to paint, so three windows run
    assert len(inner.jobs) == 3 and all(isinstance(j, Inpaint) for j in inner.jobs)
    assert [j.settings.seed for j in inner.jobs] == [41, 42, 43]
    assert not any(j.settings.cascade for j in inner.jobs)
    first = inner.jobs[0]  # most known pixels: top 0 left 0 (4 new columns, 4 known)
    assert first.image.shape == (SIZE, SIZE, 3)
    assert (first.mask[:, :4] == 255).all() and (first.mask[:, 4:] == 0).all()


def test_the_windows_report_as_one_run_whose_steps_count_every_window():
    events = []
    WithOutpaint(FakeRunner(steps=3)).run(_job(), 7, threading.Event(), events.append)
    started = [e for e in events if isinstance(e, JobStarted)]
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert len(started) == 1 and started[0].job_id == 7 and started[0].total_steps == 9
    assert len(steps) == 9 and {e.job_id for e in steps} == {7}


def test_cancelling_ends_the_whole_run_without_a_partial_image():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(JobCancelledError) as raised:
        WithOutpaint(FakeRunner()).run(_job(), 1, cancel, lambda e: None)
    assert raised.value.last_x0 is None


def test_other_jobs_go_to_the_wrapped_runner_unchanged():
    inner = FakeRunner()
    job = TextToImage("m", Settings(cascade=False))
    WithOutpaint(inner).run(job, 1, threading.Event(), lambda e: None)
    assert inner.jobs == [job]
