"""The engine on tiny random models: events, previews, reproducibility, cancel, forks, inpainting."""

import threading

import numpy as np
import pytest
import torch

from studio.core.enums import SamplerKind
from studio.core.events import JobCancelled, JobFailed, JobFinished, JobStarted, Note, StepEvent
from studio.core.jobs import ForkPoint, Inpaint, StrokesToImage, TextToImage, Upscale
from studio.core.settings import Settings, Stage
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.pipeline import Pipeline
from studio.engine.worker import Worker

FAST = Settings(prompt="red apple", steps=5, sr_steps=3, seed=11, guidance_scale=2.0)


@pytest.fixture()
def engine():
    cache = ModelCache(choose_device("cpu"))
    events = []
    worker = Worker(Pipeline(cache), events.append)
    yield worker, events, cache
    worker.close()


def run(job):
    events = []
    pipeline = Pipeline(ModelCache(choose_device("cpu")))
    result = pipeline.run(job, 1, threading.Event(), events.append)
    return result, events


def test_text_to_image_runs_base_then_sr_with_a_preview_per_step(tiny_cascade):
    result, events = run(TextToImage(str(tiny_cascade), FAST))
    started = events[0]
    assert isinstance(started, JobStarted) and started.stages == ((Stage.BASE, 5), (Stage.SR, 3))
    steps = [e.frame for e in events if isinstance(e, StepEvent)]
    assert [(f.stage, f.step) for f in steps] == [(Stage.BASE, i) for i in range(5)] + [(Stage.SR, i) for i in range(3)]
    assert steps[0].x_t_preview.shape == (1, 16, 16, 3) and steps[0].x_t_preview.dtype == np.uint8
    assert steps[-1].x0_preview.shape == (1, 32, 32, 3) and steps[-1].x_t.dtype == np.float32
    assert result.images.shape == (1, 32, 32, 3) and result.images.dtype == np.uint8
    assert result.recipe.settings == FAST and result.recipe.width == 32 and len(result.frames) == 8


def test_the_same_recipe_gives_identical_pixels_and_another_seed_does_not(tiny_cascade):
    a, _ = run(TextToImage(str(tiny_cascade), FAST))
    b, _ = run(TextToImage(str(tiny_cascade), FAST))
    c, _ = run(TextToImage(str(tiny_cascade), FAST.with_(seed=12)))
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_the_sr_stage_walks_with_its_own_sampler_when_one_is_set(tiny_cascade):
    plain, _ = run(TextToImage(str(tiny_cascade), FAST))
    same, _ = run(TextToImage(str(tiny_cascade), FAST.with_(sr_sampler=SamplerKind.DDIM)))
    own, _ = run(TextToImage(str(tiny_cascade), FAST.with_(sr_sampler=SamplerKind.DDPM)))
    assert np.array_equal(plain.images, same.images)  # naming the run's own sampler changes nothing
    base = [f for f in plain.frames if f.stage is Stage.BASE]
    assert all(np.array_equal(a.x_t, b.x_t) for a, b in zip(base, own.frames, strict=False))  # the base: DDIM
    assert not np.array_equal(plain.images, own.images)  # the SR stage: DDPM's ancestral noise
    assert own.recipe.settings.sr_sampler is SamplerKind.DDPM


def test_the_sr_stage_is_guided_only_when_its_own_scale_says_so(tiny_cascade):
    plain, _ = run(TextToImage(str(tiny_cascade), FAST))  # sr_guidance_scale 1: one row per image
    guided, _ = run(TextToImage(str(tiny_cascade), FAST.with_(sr_guidance_scale=4.0)))
    base = [f for f in plain.frames if f.stage is Stage.BASE]
    assert all(np.array_equal(a.x_t, b.x_t) for a, b in zip(base, guided.frames, strict=False))
    assert not np.array_equal(plain.images, guided.images)  # [prompt; negative] rows combined at 4
    assert guided.recipe.settings.sr_guidance_scale == 4.0


def test_the_rate_behind_the_eta_is_the_current_stage_s_own(tiny_cascade):
    """An upsampler's steps can cost several of the base's: the SR stage's rate must not carry the base's."""
    import time

    seen = []

    def slow_base(event):  # the base's steps take 0.4 s longer (the handler runs inside the step)
        if isinstance(event, StepEvent):
            seen.append((event.frame.stage, event.seconds_per_step))
            if event.frame.stage is Stage.BASE:
                time.sleep(0.4)

    Pipeline(ModelCache(choose_device("cpu"))).run(TextToImage(str(tiny_cascade), FAST), 1, threading.Event(),
                                                   slow_base)
    base = [rate for stage, rate in seen if stage is Stage.BASE]
    sr = [rate for stage, rate in seen if stage is Stage.SR]
    assert base[-1] > 0.3  # 4 of its 5 steps held the 0.4 s
    assert max(sr) < 0.2 and len(sr) == 3  # a job-wide average would be above 2.0 s / 6 = 0.33 s


def test_jobs_run_in_order_and_the_second_job_reuses_the_loaded_models(engine, tiny_cascade):
    worker, events, cache = engine
    first = worker.submit(TextToImage(str(tiny_cascade), FAST))
    second = worker.submit(TextToImage(str(tiny_cascade), FAST.with_(prompt="cat")))
    assert worker.wait_idle(60)
    finished = [e.job_id for e in events if isinstance(e, JobFinished)]
    assert finished == [first, second]
    assert cache.loads == 3  # base, sr, classifier: read once


def test_cancel_stops_within_one_step_keeps_the_last_preview_and_the_next_job_runs(tiny_cascade):
    cache = ModelCache(choose_device("cpu"))
    events = []
    holder = {}

    def emit(event):
        events.append(event)
        if isinstance(event, StepEvent) and event.job_id == holder["first"] and event.frame.step == 2:
            holder["worker"].cancel(event.job_id)

    worker = Worker(Pipeline(cache), emit)
    holder["worker"] = worker
    with worker:
        holder["first"] = worker.submit(TextToImage(str(tiny_cascade), FAST.with_(steps=20)))
        second = worker.submit(TextToImage(str(tiny_cascade), FAST))
        assert worker.wait_idle(60)
    first_steps = [e.frame for e in events if isinstance(e, StepEvent) and e.job_id == holder["first"]]
    assert [f.step for f in first_steps] == [0, 1, 2]
    cancelled = next(e for e in events if isinstance(e, JobCancelled))
    assert np.array_equal(cancelled.last_x0, first_steps[-1].x0_preview) and cancelled.stage is Stage.BASE
    assert [e.job_id for e in events if isinstance(e, JobFinished)] == [second]


def test_a_failing_job_reports_one_line_and_leaves_the_worker_usable(engine, tiny_cascade, tmp_path):
    worker, events, _ = engine
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    bad = worker.submit(TextToImage(str(broken), FAST))
    good = worker.submit(TextToImage(str(tiny_cascade), FAST))
    assert worker.wait_idle(60)
    failure = next(e for e in events if isinstance(e, JobFailed))
    assert failure.job_id == bad and str(broken) in failure.message and "\n" not in failure.message
    assert [e.job_id for e in events if isinstance(e, JobFinished)] == [good]


def test_a_fork_with_unchanged_settings_reproduces_the_run_and_a_changed_prompt_does_not(tiny_cascade):
    settings = FAST.with_(steps=8, cascade=False, eta=1.0)  # DDIM at η = 1: fresh noise at every step
    original, _ = run(TextToImage(str(tiny_cascade), settings))
    frame = original.frames[3]
    fork = ForkPoint(Stage.BASE, frame.index, settings.steps, frame.x_t, step=frame.step + 1)
    same, events = run(TextToImage(str(tiny_cascade), settings, fork=fork))
    assert events[0].stages == ((Stage.BASE, 5),)
    assert np.array_equal(same.images, original.images)
    assert same.recipe.fork == ("base", 4)  # "base step 4 of 8", as the timeline showed it
    changed, _ = run(TextToImage(str(tiny_cascade), settings.with_(prompt="blue cat"), fork=fork))
    assert not np.array_equal(changed.images, original.images)


def test_a_fork_of_the_sr_stage_reproduces_the_run_from_its_stored_base_image(tiny_cascade):
    """From the stored x_t of SR step 2 and the stored base image the fork finishes with the original's
    pixels exactly — with a sampler that draws noise at every step and the low-res image's noise
    augmentation, both keyed by the run's seed and not by what the base stage drew; a changed prompt
    changes them (the base image does not change, so the difference is the SR stage's own)."""
    settings = FAST.with_(sampler=SamplerKind.DDPM, noise_augmentation=0.2)
    original, _ = run(TextToImage(str(tiny_cascade), settings))
    frame = next(f for f in original.frames if f.stage is Stage.SR and f.step == 1)
    fork = ForkPoint(Stage.SR, frame.index, settings.sr_steps, frame.x_t, low_res=original.base_output,
                     step=frame.step + 1)
    result, events = run(TextToImage(str(tiny_cascade), settings, fork=fork))
    assert events[0].stages == ((Stage.SR, frame.index + 1),)
    assert [e.frame.index for e in events if isinstance(e, StepEvent)] == list(range(frame.index, -1, -1))
    assert np.array_equal(result.images, original.images)
    assert np.array_equal(result.base_output, original.base_output) and result.recipe.fork == ("sr", 2)
    changed, _ = run(TextToImage(str(tiny_cascade), settings.with_(prompt="blue cat"), fork=fork))
    assert changed.images.shape == (1, 32, 32, 3) and not np.array_equal(changed.images, original.images)


def test_a_fork_with_another_step_count_is_refused(tiny_cascade):
    original, _ = run(TextToImage(str(tiny_cascade), FAST))
    frame = original.frames[1]
    fork = ForkPoint(Stage.BASE, frame.index, FAST.steps, frame.x_t)
    with pytest.raises(ValueError, match="same number of steps"):
        run(TextToImage(str(tiny_cascade), FAST.with_(steps=9), fork=fork))


@pytest.mark.parametrize(("size", "settings"), [
    (32, FAST), (32, FAST.with_(repaint_jump=2, repaint_resample=3)),
    (16, FAST.with_(cascade=False)), (16, FAST.with_(cascade=False, repaint_jump=2, repaint_resample=2)),
], ids=["cascade", "cascade-repaint", "base-only", "base-only-repaint"])
def test_inpainting_keeps_every_known_pixel_of_the_output_exactly(tiny_cascade, size, settings):
    """Random pixels at the output's size (32 with the cascade — the base stage gets them resized to 16 — and
    16 for the base alone): wherever the mask is 0 the result is the input, bit for bit, and the regenerated
    region was really sampled."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4:size * 3 // 4, size // 8:size * 5 // 8] = 255
    result, events = run(Inpaint(str(tiny_cascade), settings, image, mask))
    out = result.images[0]
    assert out.shape == image.shape
    assert np.array_equal(out[mask == 0], image[mask == 0])
    assert not np.array_equal(out[mask > 0], image[mask > 0])


def test_an_inpainting_input_of_another_size_is_resized_with_a_note(tiny_cascade):
    image = np.full((24, 24, 3), 90, np.uint8)
    mask = np.zeros((24, 24), np.uint8)
    mask[6:18, 6:18] = 255
    result, events = run(Inpaint(str(tiny_cascade), FAST.with_(cascade=False), image, mask))
    notes = [e.message for e in events if isinstance(e, Note)]
    assert notes == ["the image (24×24) was resized to 16×16", "the mask (24×24) was resized to 16×16"]
    assert result.images.shape == (1, 16, 16, 3)


@pytest.fixture(scope="module")
def inpaint_model(tmp_path_factory):
    """A lone 16 px model trained with mask channels (role inpaint: 4 extra input channels)."""
    from dataclasses import replace

    from studio.core.enums import Role
    from studio.models.presets import tiny_base_config
    from tests.conftest import write_model

    config = replace(tiny_base_config(extra_channels=4), role=Role.INPAINT)
    return write_model(tmp_path_factory.mktemp("inpaint") / "inpaint.safetensors", config, 4, "tiny inpaint")


def test_a_mask_channel_model_sees_x_t_the_mask_and_the_masked_image_through_the_engine(inpaint_model):
    """Channels [x_t (3), mask (1), known·(1 − mask) (3)] at every call, doubled under guidance; the known pixels
    come out exactly and the last frame shows the composite."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    mask = np.zeros((16, 16), np.uint8)
    mask[2:10, 3:13] = 255
    pipeline = Pipeline(ModelCache(choose_device("cpu")))
    net = pipeline.cache.get(inpaint_model).module
    seen = []
    hook = net.unet.input_conv.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    try:
        result = pipeline.run(Inpaint(str(inpaint_model), FAST, image, mask), 1, threading.Event(), lambda e: None)
    finally:
        hook.remove()
    from studio.engine.previews import from_uint8, mask_from_uint8

    known, m = from_uint8(image), mask_from_uint8(mask)
    assert len(seen) == FAST.steps and seen[0].shape == (2, 7, 16, 16)  # [prompt; negative] rows
    for given in seen:
        assert torch.equal(given[:, 3:4], m.expand(2, 1, 16, 16))
        assert torch.allclose(given[:, 4:], (known * (1 - m)).expand(2, -1, -1, -1))
    assert torch.allclose(seen[0][:1, :3], torch.from_numpy(result.frames[0].x_t))  # x_t itself, not replaced
    assert np.array_equal(result.images[0][mask == 0], image[mask == 0])
    assert np.array_equal(result.frames[-1].x0_preview, result.images)


def test_the_last_frame_of_an_inpainting_run_shows_the_composited_result(tiny_cascade):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[4:12, 4:12] = 255
    for settings in (FAST, FAST.with_(cascade=False)):
        source = image if settings.cascade else image[::2, ::2].copy()
        known = mask if settings.cascade else mask[::2, ::2].copy()
        result, _ = run(Inpaint(str(tiny_cascade), settings, source, known))
        last = result.frames[-1]
        assert np.array_equal(last.x0_preview, result.images)
        assert np.array_equal(last.x0_preview[0][known == 0], source[known == 0])


def test_strokes_at_strength_zero_return_the_painting(tiny_cascade):
    painting = np.zeros((16, 16, 3), np.uint8)
    painting[:, :8] = (255, 0, 0)
    result, events = run(StrokesToImage(str(tiny_cascade), FAST.with_(strength=0.0, cascade=False), painting))
    assert np.array_equal(result.images[0], painting)
    assert not [e for e in events if isinstance(e, StepEvent)]


def test_strokes_run_round_strength_times_steps(tiny_cascade):
    painting = np.full((16, 16, 3), 200, np.uint8)
    _, events = run(StrokesToImage(str(tiny_cascade), FAST.with_(strength=0.6, steps=10), painting))
    assert events[0].stages[0] == (Stage.BASE, 6)


def test_upscale_runs_only_the_sr_stage(tiny_cascade):
    image = np.full((16, 16, 3), 90, np.uint8)
    result, events = run(Upscale(str(tiny_cascade), FAST, image))
    assert events[0].stages == ((Stage.SR, 3),) and result.images.shape == (1, 32, 32, 3)


def test_the_sr_network_sees_x_t_then_the_augmented_upsampled_low_res_image(tiny_cascade):
    """Channel order [x_t, upsample(low_res_aug)]: with no augmentation the last three input channels
    of the SR U-Net are exactly the bicubic upsampling of the base output."""
    seen = []
    pipeline = Pipeline(ModelCache(choose_device("cpu")))
    sr = pipeline.cache.get(tiny_cascade / "sr.safetensors")
    hook = sr.module.unet.input_conv.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    try:
        image = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        result = pipeline.run(Upscale(str(tiny_cascade), FAST.with_(noise_augmentation=0.0), image), 1,
                              threading.Event(), lambda e: None)
    finally:
        hook.remove()
    from studio.diffusion.cascade import upsample
    from studio.engine.previews import from_uint8

    expected = upsample(from_uint8(image), 32)
    assert len(seen) == 3 and seen[0].shape == (1, 6, 32, 32)
    assert torch.allclose(seen[0][:, 3:], expected, atol=1e-6)
    assert torch.allclose(seen[0][:, :3], torch.from_numpy(result.frames[0].x_t))


def test_batch_size_makes_that_many_different_images(tiny_cascade):
    result, _ = run(TextToImage(str(tiny_cascade), FAST.with_(batch_size=3, cascade=False)))
    assert result.images.shape == (3, 16, 16, 3)
    assert not np.array_equal(result.images[0], result.images[1])


@pytest.fixture(scope="module")
def decisive_cascade(tmp_path_factory, tiny_cascade):
    """The tiny cascade with its classifier's head 100× larger, so it tells its classes apart (p ≈ 0 or 1
    rather than ≈ 1/3) and guidance toward one has an effect to measure."""
    import json
    import shutil

    from studio.models.config import ModelCard
    from studio.models.files import build_module, save_model
    from studio.models.presets import tiny_classifier_config
    from tests.conftest import lively

    folder = tmp_path_factory.mktemp("decisive")
    for name in ("base", "sr", "cascade"):
        shutil.copy(next(tiny_cascade.glob(f"{name}.*")), folder)
    config = tiny_classifier_config()
    torch.manual_seed(3)
    module = lively(build_module(config), 3)
    with torch.no_grad():
        module.head.weight.mul_(100.0)
        module.head.bias.zero_()
    save_model(folder / "classifier.safetensors", module, config, ModelCard(name="decisive", licence="test only"))
    assert json.loads((folder / "cascade.json").read_text())["classifier"] == "classifier.safetensors"
    return folder


# Heun: on this random classifier at 5 steps the guided samples do not all gain (measured: 3 of 8 lose).
# Its trapezoid averages the guided ε̂ at σ_i with that at σ_{i−1}, where the ε-form guidance is weaker by
# √(1−ᾱ_{i−1})/√(1−ᾱ_i); on the exact mixture (tests/diffusion) Heun's guidance works. Strict: a fix shows.
HEUN_WEAK = pytest.mark.xfail(strict=True, reason="Heun's classifier guidance is weak on the random classifier")


@pytest.mark.parametrize("kind", [pytest.param(k, marks=HEUN_WEAK) if k is SamplerKind.HEUN else k
                                  for k in SamplerKind])
def test_classifier_guidance_raises_the_probability_of_its_class(decisive_cascade, kind):
    """8 images, class 2 (which unguided samples almost never are: p ≈ 0.000), scale 10, each sampler in its own
    guidance form: p_φ(y = 2 | image, t = 0) rises for every image and by more than 0.3 on average
    (measured 0.46 DDPM, 0.98 DDIM, 0.93 DDPM-β)."""
    from studio.engine.conditioning import class_probability
    from studio.engine.models import load_cascade
    from studio.engine.previews import from_uint8

    settings = FAST.with_(cascade=False, batch_size=8, sampler=kind, class_label=2)
    plain, _ = run(TextToImage(str(decisive_cascade), settings))
    guided, _ = run(TextToImage(str(decisive_cascade), settings.with_(class_guidance=10.0)))
    probability = class_probability(load_cascade(ModelCache(choose_device("cpu")), decisive_cascade).classifier, 2)
    with torch.inference_mode():
        before, after = (probability(from_uint8(r.images), torch.zeros(8, dtype=torch.long)) for r in (plain, guided))
    assert bool((after > before).all()) and float((after - before).mean()) > 0.3, (before, after)


def test_a_class_the_classifier_does_not_know_is_refused(tiny_cascade):
    with pytest.raises(ValueError, match="out of range"):
        run(TextToImage(str(tiny_cascade), FAST.with_(class_label=7, class_guidance=1.0)))


def test_without_a_gpu_the_cpu_is_chosen_with_float32_and_a_missing_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("studio.engine.device._mps_available", lambda: False)
    choice = choose_device()
    assert choice.device.type == "cpu" and choice.dtype == torch.float32
    with pytest.raises(ValueError, match="no CUDA device"):
        choose_device("cuda")


def test_static_clipping_bounds_the_guided_x0_not_each_half_of_it(tiny_cascade):
    """At guidance 30 the halves' difference is amplified 30×; the x̂₀ the sampler sees stays in [−1, 1]."""
    from studio.core.enums import Thresholding
    from studio.diffusion.schedule import respace
    from studio.engine.conditioning import guided, model_denoiser_of, prompt_network, training_schedule
    from studio.engine.models import load_cascade

    models = load_cascade(ModelCache(choose_device("cpu")), tiny_cascade)
    settings = FAST.with_(prompt="red apple", negative_prompt="blue cat", guidance_scale=30.0,
                          thresholding=Thresholding.STATIC)
    chain = respace(training_schedule(models.base), settings.steps)
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(1, 3, 16, 16, generator=g) * 3
    t = torch.full((1,), int(chain.timesteps[len(chain) // 2]))

    def base_denoiser(s):
        prompt = prompt_network(models.base, s, 1, guidance_scale=s.guidance_scale)
        return guided(model_denoiser_of(models.base, prompt.network), prompt, s, classifier=models.classifier,
                      chain=chain)

    with torch.inference_mode():
        pred = base_denoiser(settings)(x_t, t)
        loose = base_denoiser(settings.with_(thresholding=Thresholding.NONE))(x_t, t)
    assert loose.x0.abs().max() > 1.5  # guidance does push x̂₀ out of range here …
    assert pred.x0.abs().max() <= 1.0 + 1e-6  # … and the clip applies to what the sampler gets


@pytest.fixture(scope="module")
def partial_sr_cascade(tmp_path_factory, tiny_cascade):
    """The tiny cascade with an SR stage whose model asks for sample_strength 0.3 and η = 1."""
    import json
    import shutil
    from dataclasses import replace

    from studio.models.presets import tiny_sr_config
    from tests.conftest import write_model

    folder = tmp_path_factory.mktemp("partial-sr")
    for name in ("base.safetensors", "classifier.safetensors", "cascade.json"):
        shutil.copyfile(tiny_cascade / name, folder / name)
    config = tiny_sr_config()
    config = replace(config, diffusion=replace(config.diffusion, sample_strength=0.3, sample_eta=1.0))
    write_model(folder / "sr.safetensors", config, 2, "tiny sr, partial")
    assert json.loads((folder / "cascade.json").read_text())["sr"] == "sr.safetensors"
    return folder


def test_an_sr_model_with_a_sample_strength_starts_from_its_noised_upsampled_input(partial_sr_cascade):
    """sample_strength 0.3 of 10 SR steps: 3 steps, the first x_t is √ᾱ·upsample(low) + √(1−ᾱ)·z at the
    chain's position 2 — close to the upsampled image, where a full-chain start is pure noise."""
    from studio.diffusion.cascade import upsample
    from studio.engine.previews import from_uint8

    image = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    settings = FAST.with_(noise_augmentation=0.0, sr_steps=10)
    result, events = run(Upscale(str(partial_sr_cascade), settings, image))
    assert events[0].stages == ((Stage.SR, 3),) and len(result.frames) == 3
    from studio.engine.cache import ModelCache
    from studio.engine.models import load_cascade
    from studio.engine.plan import plan_job

    models = load_cascade(ModelCache(choose_device("cpu")), partial_sr_cascade)
    (sr,) = plan_job(Upscale(str(partial_sr_cascade), settings, image), models).stages
    abar = float(sr.chain.alphas_cumprod[2])
    assert sr.positions == (2, 1, 0)
    up = upsample(from_uint8(image), 32).clamp(-1, 1)
    z = (torch.from_numpy(result.frames[0].x_t) - abar**0.5 * up) / (1 - abar) ** 0.5
    assert abs(float(z.mean())) < 0.1 and abs(float(z.std()) - 1) < 0.1  # what is left is the unit noise
    assert abs(float(torch.corrcoef(torch.stack([z.flatten(), up.flatten()]))[0, 1])) < 0.1


def test_our_models_sampling_defaults_come_from_their_config(partial_sr_cascade, tiny_cascade):
    from studio.engine.model_info import _defaults, setting_defaults
    from studio.models.files import read_model_info

    assert _defaults(None, read_model_info(partial_sr_cascade / "sr.safetensors").config) == {"eta": 1.0}
    assert setting_defaults(tiny_cascade) == {}  # η = 0 is the settings' own default: nothing to say
