"""SD 2's x4 upscaler as the cascade's SR stage: an SD 1.x base's image made four times larger in the
x4's latent space, the low-res image noised by the x4's own process to its noise level, previews and
exact decodes with the x4's autoencoder, `studio cascade` / `studio info` on its file."""

import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from studio.core.enums import Architecture, ScheduleKind
from studio.core.events import StepEvent
from studio.core.jobs import ForkPoint, TextToImage, Upscale
from studio.core.settings import Settings, Stage
from studio.diffusion.cascade import aug_timestep, sr_conditioning
from studio.diffusion.schedule import make_schedule
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.model_info import setting_defaults, summarize
from studio.engine.models import load_cascade
from studio.engine.pipeline import Pipeline
from studio.engine.plan import plan_job
from studio.models.files import load_model
from tests.models.sd.tiny import tiny_sd1, tiny_x4, write_sd1, x4_buffers

# no noise augmentation, so that a fork of the SR stage sees the same low-res input (test_pipeline.py says why)
FAST = Settings(prompt="a red apple", steps=2, sr_steps=2, seed=5, guidance_scale=4.0, noise_augmentation=0.0)


def studio(*args):
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("x4")
    write_sd1(folder / "tiny-sd.safetensors", tiny_sd1(1))
    write_sd1(folder / "tiny-x4.safetensors", tiny_x4(2), extra=x4_buffers())
    made = studio("cascade", "--name", "sd-x4", "--base", folder / "tiny-sd.safetensors",
                  "--sr", folder / "tiny-x4.safetensors", "--out", folder)
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(ModelCache(choose_device("cpu")))


@pytest.fixture(scope="module")
def cascade_run(pipeline, folder):
    events = []
    result = pipeline.run(TextToImage(str(folder), FAST), 1, threading.Event(), events.append)
    return result, events


def test_studio_info_describes_the_x4_file_as_a_super_resolution_stage(folder):
    shown = studio("info", folder / "tiny-x4.safetensors")
    assert shown.returncode == 0, shown.stderr
    assert "(sr, 512×512, float16)" in shown.stdout and "x4 upscaler" in shown.stdout
    assert '"architecture": "sd-x4"' in shown.stdout and '"prediction": "v"' in shown.stdout


def test_the_file_reads_as_an_sr_model_that_makes_four_times_its_input(folder):
    model = load_model(folder / "tiny-x4.safetensors")
    config = model.config
    assert config.architecture is Architecture.SD_X4 and (config.low_res, config.resolution) == (128, 512)
    assert config.sd == tiny_x4().config and config.diffusion.schedule is ScheduleKind.SCALED_LINEAR_X4


def test_the_cascade_makes_the_base_image_four_times_larger(cascade_run):
    result, events = cascade_run
    assert result.images.shape == (1, 512, 512, 3)  # the 128-px base image, ×4
    sr = [e.frame for e in events if isinstance(e, StepEvent) and e.frame.stage is Stage.SR]
    assert len(sr) == 2
    assert sr[0].x_t.shape == (1, 4, 128, 128)  # latents at the low-res image's size
    assert sr[0].x0_preview.shape == (1, 512, 512, 3)  # the cheap preview, brought to the image's size
    assert result.base_output.shape == (1, 3, 128, 128)


def test_a_scrubbed_sr_frame_is_decoded_by_the_x4s_own_autoencoder(pipeline, folder, cascade_run):
    result, _ = cascade_run
    frame = next(f for f in result.frames if f.stage is Stage.SR)
    exact = pipeline.exact_frame(str(folder), frame)
    x4 = load_model(folder / "tiny-x4.safetensors")
    with torch.inference_mode():
        decoded = x4.module.decode_latents(torch.from_numpy(frame.x0))
    expected = ((decoded.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).numpy()
    assert exact.x0_preview.shape == (1, 512, 512, 3)
    assert np.abs(exact.x0_preview.astype(int) - expected).max() <= 1


def test_a_fork_from_an_sr_step_repeats_the_rest_of_the_run(pipeline, folder, cascade_run):
    result, _ = cascade_run
    frame = next(f for f in result.frames if f.stage is Stage.SR)
    fork = ForkPoint(Stage.SR, frame.index, FAST.sr_steps, frame.x_t, step=frame.step + 1, low_res=result.base_output)
    forked = pipeline.run(TextToImage(str(folder), FAST, fork=fork), 2, threading.Event(), lambda e: None)
    assert forked.images.shape == (1, 512, 512, 3)
    assert np.array_equal(forked.images, result.images)


def test_upscale_fits_the_image_to_the_size_the_x4_was_trained_at(pipeline, folder):
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, 50:] = (200, 40, 40)
    notes = []
    settings = Settings(prompt="", sr_steps=1, seed=1, noise_augmentation=0.02)
    result = pipeline.run(Upscale(str(folder / "tiny-x4.safetensors"), settings, image=image), 1,
                          threading.Event(), notes.append)
    assert result.images.shape == (1, 512, 512, 3)


def test_the_low_res_image_is_noised_to_its_level_by_the_x4s_own_linear_process():
    """ImageConcatWithNoiseAugmentation: ldm's "linear" schedule (√β evenly spaced, 1e-4 … 0.02), q-sampled at
    the noise level; noise augmentation 0.02 is the reference's level 20."""
    betas = torch.linspace(1e-4**0.5, 0.02**0.5, 1000, dtype=torch.float64) ** 2
    abar = torch.cumprod(1 - betas, 0)
    schedule = make_schedule(ScheduleKind.SCALED_LINEAR_X4, 1000)
    torch.testing.assert_close(schedule.alphas_cumprod, abar)
    low, noise = torch.rand(1, 3, 8, 8) * 2 - 1, torch.randn(1, 3, 8, 8)
    assert aug_timestep(0.02, 1000) == 20 and aug_timestep(0.35, 1000) == 350
    cond = sr_conditioning(low, 8, aug_timestep(0.02, 1000), schedule.alphas_cumprod, noise=noise)
    expected = abar[20].sqrt() * low + (1 - abar[20]).sqrt() * noise
    torch.testing.assert_close(cond.extra, expected.float())
    assert cond.aug_level.tolist() == [20]


def test_noise_augmentation_beyond_the_trained_levels_is_refused_in_one_line(pipeline, folder):
    models = load_cascade(pipeline.cache, folder)
    with pytest.raises(ValueError, match="trained with noise augmentation up to 0.35, not 0.5"):
        plan_job(TextToImage(str(folder), Settings(noise_augmentation=0.5)), models)


def test_the_cascade_takes_the_x4s_noise_augmentation_and_says_its_output_size(folder):
    assert setting_defaults(folder)["noise_augmentation"] == 0.02
    assert setting_defaults(folder)["sr_guidance_scale"] == 9.0  # diffusers' upscale pipeline guides at 9
    summary = summarize(folder)
    assert (summary.resolution, summary.output_resolution, summary.sr_schedule) == (128, 512, "scaled-linear-x4")
