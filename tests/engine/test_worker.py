"""The worker with a scripted runner: ordering, cancellation, failures. Real pipelines: test_pipeline.

No test depends on timing: a runner can hold its job inside the first step until the test releases it, so
"while a job is running" is a fact, not a guess about how long a sleep lasts.
"""

import threading
from dataclasses import replace

import numpy as np

from studio.core.events import DecodeFailed, Frame, FrameDecoded, JobCancelled, JobFailed, JobFinished
from studio.core.jobs import TextToImage
from studio.core.settings import Settings, Stage
from studio.engine.worker import JobCancelledError, Worker

TIMEOUT = 10  # seconds; only reached if the worker hangs


class GatedRunner:
    """Runs `steps` fake steps per job, checking the cancel flag between them like a sampler.

    Made with `hold=True`, every job waits inside its first step (`inside` is set) until `release` is set.
    """

    def __init__(self, steps: int = 5, *, hold: bool = False) -> None:
        self.steps = steps
        self.ran: list[int] = []
        self.inside = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def run(self, job, job_id, cancel, emit):
        if job.settings.prompt == "explode":
            raise RuntimeError("the network\nblew up")
        last = None
        for i in range(self.steps):
            if cancel.is_set():
                raise JobCancelledError(last, None)
            self.inside.set()
            assert self.release.wait(TIMEOUT)
            last = np.full((1, 2, 2, 3), i, np.uint8)
        self.ran.append(job_id)
        return job.settings.prompt

    def exact_frame(self, model, frame):
        if model == "broken":
            raise ValueError("the autoencoder\nis missing")
        return replace(frame, x0_preview=frame.x0_preview + 1)


def _job(prompt="a"):
    return TextToImage("model.safetensors", Settings(prompt=prompt))


def _worker(runner):
    events = []
    return Worker(runner, events.append), events


def test_jobs_run_one_at_a_time_in_submission_order():
    runner = GatedRunner(hold=True)
    worker, events = _worker(runner)
    with worker:
        ids = [worker.submit(_job(p)) for p in "abc"]
        assert runner.inside.wait(TIMEOUT)
        assert runner.ran == [] and not worker.wait_idle(0)  # the first is held: nothing has finished
        runner.release.set()
        assert worker.wait_idle(TIMEOUT)
    assert runner.ran == ids
    assert [e.result for e in events if isinstance(e, JobFinished)] == ["a", "b", "c"]


def test_a_failing_job_reports_one_line_and_the_next_job_still_runs():
    runner = GatedRunner()
    worker, events = _worker(runner)
    with worker:
        bad = worker.submit(_job("explode"))
        good = worker.submit(_job("fine"))
        assert worker.wait_idle(TIMEOUT)
    failed = [e for e in events if isinstance(e, JobFailed)]
    assert failed == [JobFailed(bad, "the network blew up")]
    assert [e.job_id for e in events if isinstance(e, JobFinished)] == [good]


def test_cancelling_the_running_job_keeps_its_last_preview_and_frees_the_worker():
    runner = GatedRunner(steps=200, hold=True)
    worker, events = _worker(runner)
    with worker:
        first = worker.submit(_job("slow"))
        assert runner.inside.wait(TIMEOUT)  # the first job is inside step 1 now
        worker.cancel(first)
        runner.release.set()  # step 1 finishes; the check before step 2 sees the cancel
        second = worker.submit(_job("next"))
        assert worker.wait_idle(TIMEOUT)
    cancelled = [e for e in events if isinstance(e, JobCancelled)]
    assert [e.job_id for e in cancelled] == [first]
    assert cancelled[0].last_x0 is not None and int(cancelled[0].last_x0.max()) == 0  # step 1's preview
    assert [e.job_id for e in events if isinstance(e, JobFinished)] == [second]
    assert runner.ran == [second]


def test_a_queued_job_can_be_cancelled_before_it_starts():
    runner = GatedRunner(hold=True)
    worker, events = _worker(runner)
    with worker:
        first = worker.submit(_job("first"))
        assert runner.inside.wait(TIMEOUT)  # the first job is running, so the next one is still queued
        queued = worker.submit(_job("never"))
        worker.cancel(queued)
        runner.release.set()
        assert worker.wait_idle(TIMEOUT)
    assert [e.job_id for e in events if isinstance(e, JobCancelled)] == [queued]
    assert runner.ran == [first]


def test_cancel_all_drops_the_running_job_and_everything_queued():
    runner = GatedRunner(steps=50, hold=True)
    worker, events = _worker(runner)
    with worker:
        ids = [worker.submit(_job(p)) for p in "abcd"]
        assert runner.inside.wait(TIMEOUT)
        worker.cancel_all()
        runner.release.set()
        assert worker.wait_idle(TIMEOUT)
        later = worker.submit(_job("later"))
        assert worker.wait_idle(TIMEOUT)
    assert sorted(e.job_id for e in events if isinstance(e, JobCancelled)) == ids
    assert runner.ran == [later]


def _frame():
    preview = np.zeros((1, 2, 2, 3), np.uint8)
    return Frame(Stage.BASE, 0, 1, 0, 999, preview, preview, np.zeros((1, 4, 1, 1), np.float32),
                 x0=np.zeros((1, 4, 1, 1), np.float32))


def _answering_worker(runner):
    """A worker, its events, and a semaphore released once per answered decode request."""
    events, answered = [], threading.Semaphore(0)

    def emit(event):
        events.append(event)
        if isinstance(event, DecodeFailed | FrameDecoded):
            answered.release()

    return Worker(runner, emit), events, answered


def test_a_decode_request_waits_for_every_job_so_no_run_is_slowed():
    runner = GatedRunner(hold=True)
    worker, events, answered = _answering_worker(runner)
    with worker:
        first = worker.submit(_job("running"))
        assert runner.inside.wait(TIMEOUT)
        request = worker.request_exact_frame("model.safetensors", _frame())
        second = worker.submit(_job("queued after the request"))
        runner.release.set()
        assert answered.acquire(timeout=TIMEOUT)
    ended = [e for e in events if isinstance(e, JobFinished | FrameDecoded)]
    assert [(type(e), getattr(e, "job_id", None) or e.request_id) for e in ended] == [
        (JobFinished, first), (JobFinished, second), (FrameDecoded, request)]
    assert int(ended[-1].frame.x0_preview.max()) == 1


def test_a_failing_decode_is_one_line_and_the_worker_goes_on():
    runner = GatedRunner()
    worker, events, answered = _answering_worker(runner)
    with worker:
        request = worker.request_exact_frame("broken", _frame())
        worker.request_exact_frame("model.safetensors", _frame())
        assert answered.acquire(timeout=TIMEOUT) and answered.acquire(timeout=TIMEOUT)
        job = worker.submit(_job("after"))
        assert worker.wait_idle(TIMEOUT)
    worker_events = [e for e in events if isinstance(e, DecodeFailed | FrameDecoded | JobFinished)]
    assert DecodeFailed(request, "the autoencoder is missing") in worker_events
    assert sum(isinstance(e, FrameDecoded) for e in worker_events) == 1
    assert [e.job_id for e in worker_events if isinstance(e, JobFinished)] == [job]
