"""The generation panel's view model: settings for a job, a result's recipe put back, the seed dice."""

import random

import pytest

from studio.app.generation import GenerationModel, Mode
from studio.core.enums import SamplerKind
from studio.core.settings import JobKind, Recipe, Settings


def test_the_settings_a_job_gets_follow_every_property(qtbot):
    g = GenerationModel()
    g.prompt, g.negative_prompt, g.steps, g.sampler, g.eta = "red apple", "blur", 12, SamplerKind.DDPM, 0.5
    g.guidance_scale, g.seed, g.batch_size, g.cascade, g.sr_steps = 4.5, 99, 2, False, 7
    g.class_guidance, g.class_label, g.strength, g.noise_augmentation = 2.0, 1, 0.35, 0.2
    s = g.settings(with_classifier=True)
    assert (s.prompt, s.negative_prompt, s.steps, s.sampler, s.eta) == ("red apple", "blur", 12, SamplerKind.DDPM, 0.5)
    assert (s.guidance_scale, s.seed, s.batch_size, s.cascade, s.sr_steps) == (4.5, 99, 2, False, 7)
    assert (s.class_guidance, s.class_label, s.strength, s.noise_augmentation) == (2.0, 1, 0.35, 0.2)


def test_without_a_classifier_no_class_guidance_reaches_the_job(qtbot):
    g = GenerationModel()
    g.class_guidance, g.class_label = 2.0, 1
    s = g.settings(with_classifier=False)
    assert (s.class_guidance, s.class_label) == (0.0, None)
    g.class_guidance = 0.0
    assert g.settings(with_classifier=True).class_label is None  # a label without guidance means nothing


def test_applying_a_recipe_restores_its_settings_and_mode_and_locks_the_seed(qtbot):
    settings = Settings(prompt="yellow star", seed=77, steps=9, sampler=SamplerKind.DDPM, guidance_scale=6.5,
                        strength=0.25, cascade=False)
    g = GenerationModel()
    g.apply(Recipe(JobKind.STROKES_TO_IMAGE, "fake", "0" * 64, settings, 16, 16))
    assert (g.prompt, g.seed, g.steps, g.sampler, g.guidance_scale) == ("yellow star", 77, 9, SamplerKind.DDPM, 6.5)
    assert (g.strength, g.cascade, g.seed_locked) == (0.25, False, True)
    assert type(g.mode) is Mode and g.mode is Mode.STROKES


@pytest.mark.parametrize("mode", list(Mode))
def test_each_mode_is_its_job_kind(mode):
    assert mode.kind.value == mode.value and Mode(mode.kind.value) is mode


def test_the_dice_rolls_a_new_seed_unless_locked(qtbot):
    g = GenerationModel(rng=random.Random(3))
    first = g.roll_seed()
    assert first == g.seed == random.Random(3).randrange(0, 2**31)
    g.seed_locked = True
    assert g.roll_seed() == first
