"""The session on a fake engine: opening models in the background, the run rules, partial results,
gallery entries and the sequence export — without a window."""

import threading

import numpy as np
import pytest

from studio.app.generation import Mode
from studio.app.session import Control, Opened, first_readable
from studio.core.enums import SamplerKind
from studio.core.jobs import Inpaint, StrokesToImage, TextToImage, Upscale
from studio.core.settings import JobKind, Stage
from studio.engine.model_info import ModelFileError
from studio.images.sequences import SequenceFormat
from tests.app.fakes import FakeCanvas, FakeRunner, summary


def _run(session, qtbot, **kwargs):
    with qtbot.waitSignal(session.runner.finished, timeout=10_000) as blocker:
        assert session.generate(**kwargs) is not None
    return blocker.args[0]


# --- opening a model --------------------------------------------------------------------------------
def test_open_model_returns_at_once_says_opening_and_the_model_arrives_by_signal(make_session, models, path_of,
                                                                                 qtbot):
    session = make_session()
    first = path_of("first")
    gate = models.hold(first)
    messages = []
    session.message.connect(messages.append)
    session.open_model(first)  # returns while the file is still being read
    assert session.opening == first and session.model is None
    assert not session.applies(Control.GENERATE)
    assert session.generate() is None and messages[-1] == "a model is opening: Generate works once it is read"
    with qtbot.waitSignal(session.model_changed, timeout=10_000) as blocker:
        gate.set()
    assert blocker.args[0].name == "first" and session.model.name == "first"
    assert session.model_path == first and session.opening == ""
    assert messages[-1] == "opened first (its card: Model card…)"
    assert session.applies(Control.GENERATE)


def test_a_bad_file_is_one_line_and_the_model_in_use_stays(opened, path_of, qtbot, tmp_path):
    bad = str(tmp_path / "bad.safetensors")
    with qtbot.waitSignal(opened.error, timeout=10_000) as blocker:
        opened.open_model(bad)
    assert blocker.args[0] == f"{bad}: not a safetensors file (header length out of range)"
    assert opened.model.name == "first" and opened.model_path == path_of("first") and opened.opening == ""


def test_opening_another_model_while_one_is_read_keeps_the_newer(make_session, models, path_of, qtbot):
    session = make_session()
    gate = models.hold(path_of("first"))
    changes = []
    session.model_changed.connect(lambda m: changes.append(m.name))
    session.open_model(path_of("first"))
    with qtbot.waitSignal(session.model_changed, timeout=10_000):
        session.open_model(path_of("second"))  # chosen while "first" is still being read
    gate.set()  # "first" finishes last; its outcome is dropped
    qtbot.waitUntil(lambda: not session.background.busy, timeout=10_000)
    assert changes == ["second"] and session.model.name == "second" and session.opening == ""


def test_start_up_reopens_the_last_model(make_session, path_of, qtbot):
    first = make_session()
    first.model_path = path_of("second")
    first.save_settings()
    again = make_session()
    with qtbot.waitSignal(again.model_changed, timeout=10_000):
        again.restore()
        assert again.opening == path_of("second")
    assert again.model.name == "second"


def test_the_first_readable_of_the_candidates_is_opened():
    read = {"good": summary("good")}.__getitem__

    def reader(path):
        try:
            return read(path)
        except KeyError:
            raise ModelFileError(path, "no such file") from None

    assert first_readable(["gone", "good"], reader) == Opened("good", summary("good"))
    with pytest.raises(ModelFileError, match="^gone: no such file$"):
        first_readable(["gone", "also gone"], reader)


# --- running ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "job_type"), [(Mode.TEXT, TextToImage), (Mode.STROKES, StrokesToImage),
                                                (Mode.INPAINT, Inpaint), (Mode.UPSCALE, Upscale)])
def test_each_mode_submits_its_job_with_the_canvas_and_settings(opened, fake_runner, qtbot, mode, job_type):
    opened.canvas.coverage[2:6, 2:6] = 255
    g = opened.generation
    g.mode, g.prompt, g.steps, g.seed, g.seed_locked = mode, "red apple", 12, 5, True
    result = _run(opened, qtbot)
    job = fake_runner.jobs[-1]
    assert type(job) is job_type and job.kind is mode.kind and result.recipe.kind is mode.kind
    assert (job.settings.prompt, job.settings.steps, job.settings.seed) == ("red apple", 12, 5)
    assert job.model == opened.model_path
    if mode is Mode.INPAINT:
        assert job.mask.sum() == 16 * 255


def test_a_run_fills_the_gallery_and_the_timeline_and_running_lasts_until_it_ends(opened, fake_runner, qtbot):
    fake_runner.gate = gate = threading.Event()
    running = []
    opened.runner.running_changed.connect(running.append)
    opened.generation.cascade = True
    opened.generate()
    assert opened.runner.running and not opened.applies(Control.GENERATE)
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        gate.set()
    assert running == [True, False]
    assert opened.timeline.length == 3 + 2 and opened.timeline.current().stage is Stage.SR
    assert len(opened.gallery.entries) == 1 and opened.gallery.entries[0].recipe.kind is JobKind.TEXT_TO_IMAGE


def test_generate_while_a_run_is_going_is_refused_with_a_hint(opened, fake_runner, qtbot):
    fake_runner.gate = gate = threading.Event()
    messages = []
    opened.message.connect(messages.append)
    assert opened.generate() == 1
    assert opened.generate() is None and messages == ["a run is going: Esc cancels it"]
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        gate.set()
    assert len(fake_runner.jobs) == 1


def test_each_run_rolls_a_new_seed_unless_it_is_locked(opened, qtbot):
    g = opened.generation
    g.seed_locked = False
    seeds = [_run(opened, qtbot).recipe.settings.seed for _ in range(3)]
    assert len(set(seeds)) == 3 and g.seed == seeds[-1]
    g.seed_locked = True
    assert [_run(opened, qtbot).recipe.settings.seed for _ in range(2)] == [seeds[-1]] * 2


def test_inpainting_without_a_mask_says_what_to_do_and_submits_nothing(opened, fake_runner):
    errors = []
    opened.error.connect(errors.append)
    opened.generation.mode = Mode.INPAINT
    assert opened.generate() is None
    assert errors == ["paint a mask over the part to regenerate (M switches to the mask)"] and not fake_runner.jobs


def test_without_a_model_generate_asks_for_one(make_session):
    session = make_session()
    errors = []
    session.error.connect(errors.append)
    assert session.generate() is None and errors == ["open a model first"]


def test_a_cancelled_run_offers_its_last_prediction_to_keep_or_drop(opened, fake_runner, qtbot):
    fake_runner.steps, fake_runner.gate = 50, threading.Event()
    opened.generation.cascade = False
    opened.generate()
    opened.cancel()  # before the first step: the runner sees the flag and stops with nothing to offer
    with qtbot.waitSignal(opened.runner.cancelled, timeout=10_000):
        fake_runner.gate.set()
    assert opened.partial is None and not opened.runner.running

    fake_runner.gate, fake_runner.hold_after = None, 1
    opened.runner.step.connect(lambda e: opened.cancel() if e.frame.step == 1 else None)
    with qtbot.waitSignal(opened.partial_changed, timeout=10_000) as blocker:
        opened.generate()
    assert (blocker.args[0] == 20).all()  # step 2's x̂₀ (the fake's previews are grey at 10·step)
    assert opened.partial is not None and not opened.runner.running
    opened.keep_partial()
    assert opened.partial is None and opened.gallery.entries[0].recipe is None


def test_a_failed_run_is_one_error_line_and_the_next_run_may_start(opened, fake_runner, qtbot):
    fake_runner.fail = "out of memory"
    with qtbot.waitSignal(opened.error, timeout=10_000) as blocker:
        opened.generate()
    assert blocker.args[0] == "out of memory" and opened.runner.status == "failed: out of memory"
    fake_runner.fail = None
    assert _run(opened, qtbot).recipe.kind is JobKind.TEXT_TO_IMAGE


def test_a_fork_reruns_from_the_selected_steps_x_t_with_the_parents_step_counts(opened, fake_runner, qtbot):
    g = opened.generation
    g.steps, g.sr_steps, g.cascade = 3, 2, True
    _run(opened, qtbot)
    opened.timeline.index = 1  # base step 2 of 3
    g.steps, g.prompt = 40, "blue cat"
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.fork_from_current_step()
    job = fake_runner.jobs[-1]
    assert job.fork.stage is Stage.BASE and job.fork.step == 2 and job.fork.steps == 3
    assert np.array_equal(job.fork.x_t, np.full((1, 3, 8, 8), 1, np.float32))
    assert job.settings.steps == 3 and job.settings.prompt == "blue cat"


def test_a_fork_from_an_sr_step_runs_the_cascade_from_the_refined_base_image(opened, fake_runner, qtbot):
    g = opened.generation
    g.cascade = True
    _run(opened, qtbot)
    opened.timeline.index = opened.timeline.length - 1  # the last SR step
    g.cascade = False  # a fork from the SR stage runs it regardless
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.fork_from_current_step()
    job = fake_runner.jobs[-1]
    assert job.fork.stage is Stage.SR and job.settings.cascade and job.fork.low_res.shape == (1, 3, 8, 8)


def test_forking_before_any_run_says_what_to_do(opened):
    errors = []
    opened.error.connect(errors.append)
    assert opened.fork_from_current_step() is None
    assert errors == ["run something first, then pick a step to fork from"]


# --- gallery entries ----------------------------------------------------------------------------
def test_reuse_puts_a_results_settings_back_and_a_partial_has_none(opened, qtbot):
    g = opened.generation
    g.mode, g.prompt, g.seed, g.seed_locked = Mode.STROKES, "yellow star", 77, True
    _run(opened, qtbot)
    g.mode, g.prompt, g.seed, g.seed_locked = Mode.TEXT, "other", 1, False
    opened.reuse(opened.gallery.entries[0])
    assert (g.mode, g.prompt, g.seed, g.seed_locked) == (Mode.STROKES, "yellow star", 77, True)
    errors = []
    opened.error.connect(errors.append)
    partial = opened.gallery.add(np.zeros((8, 8, 3), np.uint8), None)
    opened.reuse(partial)
    assert errors == ["a cancelled run's image has no settings to reuse"] and g.prompt == "yellow star"


def test_upscale_puts_the_image_on_the_canvas_and_runs_the_sr_stage_on_it(opened, fake_runner, qtbot):
    entry = opened.gallery.add(np.full((8, 8, 3), 90, np.uint8), None)
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.upscale(entry)
    job = fake_runner.jobs[-1]
    assert isinstance(job, Upscale) and opened.generation.mode is Mode.UPSCALE
    assert opened.canvas.placed[-1][1] == "upscale input" and (job.image == 90).all()


def test_send_to_canvas_is_one_undoable_placement(opened):
    entry = opened.gallery.add(np.full((8, 8, 3), 30, np.uint8), None)
    opened.send_to_canvas(entry)
    image, text = opened.canvas.placed[-1]
    assert text == "send to canvas" and (image == 30).all()


# --- sequence export ----------------------------------------------------------------------------
def test_the_sequence_is_written_in_the_background_and_reported(opened, qtbot, tmp_path):
    opened.generation.cascade = False
    _run(opened, qtbot)
    target = tmp_path / "steps.gif"
    with qtbot.waitSignal(opened.message, timeout=10_000) as blocker:
        assert opened.export_sequence(target, SequenceFormat.GIF)
    assert blocker.args[0] == f"3 steps exported to {target}" and target.stat().st_size > 0


def test_exporting_before_any_run_says_so(opened, tmp_path):
    errors = []
    opened.error.connect(errors.append)
    assert not opened.export_sequence(tmp_path / "steps.gif", SequenceFormat.GIF)
    assert errors == ["run something first: there are no steps to export"]


def test_an_unwritable_sequence_target_is_an_error_line(opened, qtbot, tmp_path):
    opened.generation.cascade = False
    _run(opened, qtbot)
    blocker_file = tmp_path / "file"
    blocker_file.write_text("")
    with qtbot.waitSignal(opened.error, timeout=10_000) as blocker:
        opened.export_sequence(blocker_file / "steps.gif", SequenceFormat.GIF)
    assert "\n" not in blocker.args[0] and str(blocker_file) in blocker.args[0]


# --- controls -----------------------------------------------------------------------------------
def test_controls_apply_by_mode_sampler_and_model(make_session, models, path_of, qtbot):
    session = make_session(canvas=FakeCanvas(), runner=FakeRunner())
    g = session.generation
    assert not session.applies(Control.CLASS_GUIDANCE)  # no model yet
    with qtbot.waitSignal(session.model_changed, timeout=10_000):
        session.open_model(path_of("second"))  # no SR stage
    g.mode = Mode.STROKES
    assert session.applies(Control.STRENGTH) and not session.applies(Control.CASCADE)
    assert not session.applies(Control.NOISE_AUGMENTATION) and session.applies(Control.CLASS_GUIDANCE)
    g.mode = Mode.UPSCALE
    assert not session.applies(Control.GUIDANCE) and not session.applies(Control.STRENGTH)


def test_a_newly_opened_model_brings_its_authors_scales_and_reopening_it_keeps_the_user_s(make_session):
    from dataclasses import replace

    session = make_session()
    glide = replace(summary("glide"), defaults=(("guidance_scale", 5.0), ("class_guidance", 0.5)))
    session._opened(Opened("glide.safetensors", glide))
    assert session.generation.guidance_scale == 5.0 and session.generation.class_guidance == 0.5
    session.generation.guidance_scale = 7.0
    session._opened(Opened("glide.safetensors", glide))  # start-up reopens the last session's model
    assert session.generation.guidance_scale == 7.0
    session._opened(Opened("other.safetensors", summary("other")))  # no authors' scales: the user's stay
    assert session.generation.guidance_scale == 7.0
    assert session.generation.class_guidance == 0.0  # GLIDE's, untouched by the user: not carried over


def test_what_a_model_brought_goes_back_with_it_when_another_opens_unless_the_user_changed_it(make_session):
    from dataclasses import replace

    session = make_session()
    g = session.generation
    adm = replace(summary("adm"), defaults=(("class_guidance", 10.0), ("sampler", SamplerKind.DDPM),
                                            ("eta", 1.0)))
    session.model_path = "adm.safetensors"  # the last session's model and settings, as start-up finds them
    g.class_guidance, g.sampler, g.eta = 10.0, SamplerKind.DDPM, 0.5
    session._opened(Opened("adm.safetensors", adm))  # start-up reopens it: the settings stay as they were…
    assert (g.class_guidance, g.sampler, g.eta) == (10.0, SamplerKind.DDPM, 0.5)
    session._opened(Opened("emoji.safetensors", replace(summary("emoji"), defaults=(("eta", 1.0),))))
    assert g.class_guidance == 0.0 and g.sampler is SamplerKind.DDIM  # …but what ADM brought is known
    assert g.eta == 1.0  # the new model's own
