"""The worker with a scripted runner: ordering, cancellation, failures. Real pipelines: test_pipeline."""

import threading
import time

import numpy as np

from studio.core.events import JobCancelled, JobFailed, JobFinished
from studio.core.jobs import TextToImage
from studio.core.settings import Settings
from studio.engine.worker import JobCancelledError, Worker


class ScriptedRunner:
    """Runs `steps` fake steps per job, checking the cancel flag between them like a sampler."""

    def __init__(self, steps=5, delay=0.01):
        self.steps, self.delay = steps, delay
        self.ran = []
        self.step_started = threading.Event()

    def run(self, job, job_id, cancel, emit):
        if job.settings.prompt == "explode":
            raise RuntimeError("the network\nblew up")
        last = None
        for i in range(self.steps):
            if cancel.is_set():
                raise JobCancelledError(last, None)
            self.step_started.set()
            time.sleep(self.delay)
            last = np.full((1, 2, 2, 3), i, np.uint8)
        self.ran.append(job_id)
        return job.settings.prompt


def _job(prompt="a"):
    return TextToImage("model.safetensors", Settings(prompt=prompt))


def _worker(runner):
    events = []
    return Worker(runner, events.append), events


def test_jobs_run_one_at_a_time_in_submission_order():
    runner = ScriptedRunner()
    worker, events = _worker(runner)
    with worker:
        ids = [worker.submit(_job(p)) for p in "abc"]
        assert worker.wait_idle(5)
    assert runner.ran == ids
    assert [e.result for e in events if isinstance(e, JobFinished)] == ["a", "b", "c"]


def test_a_failing_job_reports_one_line_and_the_next_job_still_runs():
    runner = ScriptedRunner()
    worker, events = _worker(runner)
    with worker:
        bad = worker.submit(_job("explode"))
        good = worker.submit(_job("fine"))
        assert worker.wait_idle(5)
    failed = [e for e in events if isinstance(e, JobFailed)]
    assert failed == [JobFailed(bad, "the network blew up")]
    assert [e.job_id for e in events if isinstance(e, JobFinished)] == [good]


def test_cancelling_the_running_job_keeps_its_last_preview_and_frees_the_worker():
    runner = ScriptedRunner(steps=200, delay=0.01)
    worker, events = _worker(runner)
    with worker:
        first = worker.submit(_job("slow"))
        assert runner.step_started.wait(5)
        worker.cancel(first)
        runner.steps = 2
        second = worker.submit(_job("next"))
        assert worker.wait_idle(5)
    cancelled = [e for e in events if isinstance(e, JobCancelled)]
    assert [e.job_id for e in cancelled] == [first]
    assert cancelled[0].last_x0 is not None
    assert [e.job_id for e in events if isinstance(e, JobFinished)] == [second]


def test_a_queued_job_can_be_cancelled_before_it_starts():
    runner = ScriptedRunner(steps=20)
    worker, events = _worker(runner)
    with worker:
        worker.submit(_job("first"))
        queued = worker.submit(_job("never"))
        worker.cancel(queued)
        assert worker.wait_idle(5)
    assert [e.job_id for e in events if isinstance(e, JobCancelled)] == [queued]
    assert queued not in runner.ran


def test_cancel_all_drops_everything_queued():
    runner = ScriptedRunner(steps=50)
    worker, events = _worker(runner)
    with worker:
        ids = [worker.submit(_job(p)) for p in "abcd"]
        assert runner.step_started.wait(5)
        worker.cancel_all()
        assert worker.wait_idle(5)
        later = worker.submit(_job("later"))
        assert worker.wait_idle(5)
    assert sorted(e.job_id for e in events if isinstance(e, JobCancelled)) == ids
    assert runner.ran == [later]
