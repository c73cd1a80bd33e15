"""Stable Diffusion 1.x checkpoints in the engine: every task runs on latents and comes back as pixels,
with a cheap preview per step, the known pixels of an inpainting kept exactly, the same pixels again
from the same recipe."""

import threading

import numpy as np
import pytest
import torch

from studio.core.events import StepEvent
from studio.core.jobs import ForkPoint, Inpaint, StrokesToImage, TextToImage
from studio.core.settings import Settings, Stage
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.pipeline import Pipeline
from studio.models.files import load_model
from tests.models.sd.tiny import tiny_sd1, write_sd1

FAST = Settings(prompt="a red apple", negative_prompt="blurry", steps=2, seed=5, guidance_scale=4.0)


@pytest.fixture(scope="module")
def sd_file(tmp_path_factory):
    return write_sd1(tmp_path_factory.mktemp("sd") / "tiny-sd.safetensors", tiny_sd1(1))


@pytest.fixture(scope="module")
def sd_inpainting_file(tmp_path_factory):
    return write_sd1(tmp_path_factory.mktemp("sd") / "tiny-sd-inpainting.safetensors", tiny_sd1(2, in_channels=9))


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(ModelCache(choose_device("cpu")))


def run(pipeline, job):
    events = []
    return pipeline.run(job, 1, threading.Event(), events.append), events


def _painting() -> np.ndarray:
    image = np.zeros((128, 128, 3), np.uint8)
    image[:, :64] = (220, 40, 30)
    image[:, 64:] = (30, 60, 200)
    return image


def test_text_to_image_samples_latents_and_returns_pixels_with_a_preview_per_step(pipeline, sd_file):
    result, events = run(pipeline, TextToImage(str(sd_file), FAST))
    assert result.images.shape == (1, 128, 128, 3)
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert len(steps) == 2 and len(result.frames) == 2
    frame = result.frames[0]
    assert frame.x_t.shape == (1, 4, 64, 64)  # the fork point is the latent itself
    assert frame.x0_preview.shape == (1, 128, 128, 3)  # the preview is shown at the image size


def test_the_same_recipe_gives_the_same_pixels_and_the_recipe_records_the_file(pipeline, sd_file):
    first, _ = run(pipeline, TextToImage(str(sd_file), FAST))
    second, _ = run(pipeline, TextToImage(str(sd_file), FAST))
    assert np.array_equal(first.images, second.images)
    assert first.recipe.model_hash == second.recipe.model_hash and len(first.recipe.model_hash) == 64
    other, _ = run(pipeline, TextToImage(str(sd_file), Settings(**{**FAST.__dict__, "seed": 6})))
    assert not np.array_equal(first.images, other.images)


def test_the_negative_prompt_changes_the_image(pipeline, sd_file):
    plain, _ = run(pipeline, TextToImage(str(sd_file), FAST))
    other, _ = run(pipeline, TextToImage(str(sd_file), Settings(**{**FAST.__dict__, "negative_prompt": "green"})))
    assert not np.array_equal(plain.images, other.images)


def test_a_scrubbed_frame_gets_the_exact_decode_of_its_latent_x0_and_x_t(pipeline, sd_file):
    result, _ = run(pipeline, TextToImage(str(sd_file), FAST))
    frame = result.frames[0]
    assert frame.x0.shape == (1, 4, 64, 64)
    exact = pipeline.exact_frame(str(sd_file), frame)
    model = load_model(sd_file)

    def decoded(latents):
        with torch.inference_mode():
            images = model.module.decode_latents(torch.from_numpy(latents))
        return ((images.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).numpy().astype(int)

    assert np.abs(exact.x0_preview.astype(int) - decoded(frame.x0)).max() <= 1
    assert np.abs(exact.x_t_preview.astype(int) - decoded(frame.x_t)).max() <= 1
    assert not np.array_equal(exact.x0_preview, frame.x0_preview)  # the cheap preview is an approximation
    assert not np.array_equal(exact.x_t_preview, frame.x_t_preview)
    assert np.array_equal(exact.x_t, frame.x_t) and np.array_equal(exact.x0, frame.x0)  # forks are unchanged


def test_a_fork_from_a_step_repeats_the_rest_of_the_run(pipeline, sd_file):
    result, _ = run(pipeline, TextToImage(str(sd_file), FAST))
    frame = result.frames[0]
    fork = ForkPoint(Stage.BASE, frame.index, FAST.steps, frame.x_t, step=frame.step + 1)
    forked, _ = run(pipeline, TextToImage(str(sd_file), FAST, fork=fork))
    assert np.abs(forked.images.astype(int) - result.images.astype(int)).max() <= 1


def test_strokes_to_image_starts_from_the_encoded_painting(pipeline, sd_file):
    model = load_model(sd_file)
    with torch.inference_mode():
        round_trip = model.module.decode_latents(model.module.encode_images(
            torch.from_numpy(_painting()).permute(2, 0, 1)[None].float() / 127.5 - 1))
    expected = ((round_trip.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).numpy()

    def distance(strength: float) -> float:
        settings = Settings(**{**FAST.__dict__, "steps": 10, "strength": strength})
        result, _ = run(pipeline, StrokesToImage(str(sd_file), settings, painting=_painting()))
        assert len(result.frames) == round(10 * strength)
        return float(np.abs(result.images.astype(float) - expected).mean())

    # the painting goes in through the encoder: the less noise, the nearer its reconstruction
    assert distance(0.1) < distance(0.9)


@pytest.mark.parametrize("model", ["sd_file", "sd_inpainting_file"])
def test_inpainting_keeps_the_known_pixels_exactly(pipeline, model, request):
    path = request.getfixturevalue(model)
    mask = np.zeros((128, 128), np.uint8)
    mask[32:96, 40:100] = 255
    result, _ = run(pipeline, Inpaint(str(path), FAST, image=_painting(), mask=mask))
    known = mask == 0
    assert np.array_equal(result.images[0][known], _painting()[known])
    assert not np.array_equal(result.images[0][~known], _painting()[~known])
    assert np.array_equal(result.frames[-1].x0_preview[0], result.images[0])  # the timeline ends on the result
    # that frame shows the finished image already: no exact decode would replace the composite
    assert result.frames[-1].x0 is None and pipeline.exact_frame(str(path), result.frames[-1]) is result.frames[-1]


def test_the_inpainting_checkpoint_is_a_mask_channel_model(sd_inpainting_file):
    from studio.core.enums import Role

    model = load_model(sd_inpainting_file)
    assert model.config.role is Role.INPAINT and model.config.sd.inpainting


def test_the_window_reads_an_sd_file_as_it_reads_ours(sd_file):
    from studio.engine.model_info import schedule_curve, summarize

    summary = summarize(sd_file)
    assert (summary.name, summary.resolution, summary.has_base, summary.has_sr) == ("tiny-sd", 128, True, False)
    assert summary.schedule == "scaled-linear" and "Stable Diffusion 1.x" in summary.description
    curve = schedule_curve(summary, 30)
    assert len(curve.chain) == 30 and curve.chain[-1] == 999
