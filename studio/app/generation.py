"""The generation panel's view model: every setting the user can change, as observable properties."""

from __future__ import annotations

import random
from enum import Enum

from PySide6.QtCore import QObject, Signal

from studio.app.properties import Property
from studio.core.enums import SamplerKind, Spacing
from studio.core.settings import JobKind, Recipe, Settings


class Mode(str, Enum):
    """What Generate does. Values are the job kinds (stable: they are persisted); labels are shown."""

    TEXT = JobKind.TEXT_TO_IMAGE.value
    STROKES = JobKind.STROKES_TO_IMAGE.value
    INPAINT = JobKind.INPAINT.value
    UPSCALE = JobKind.UPSCALE.value
    ILVR = JobKind.ILVR.value  # the canvas (painted, or an image opened onto it) is the reference

    @property
    def label(self) -> str:
        return {"text-to-image": "Text → image", "strokes-to-image": "Strokes → image", "inpaint": "Inpaint",
                "upscale": "Upscale", "ilvr": "ILVR (canvas = reference)"}[self.value]

    @property
    def kind(self) -> JobKind:
        return JobKind(self.value)


class GenerationModel(QObject):
    prompt_changed = Signal(str)
    negative_prompt_changed = Signal(str)
    mode_changed = Signal(object)
    steps_changed = Signal(int)
    guidance_scale_changed = Signal(float)
    strength_changed = Signal(float)
    eta_changed = Signal(float)
    churn_changed = Signal(float)
    snr_changed = Signal(float)
    spacing_changed = Signal(object)
    class_guidance_changed = Signal(float)
    class_label_changed = Signal(int)
    noise_augmentation_changed = Signal(float)
    sampler_changed = Signal(object)
    seed_changed = Signal(int)
    seed_locked_changed = Signal(bool)
    batch_size_changed = Signal(int)
    cascade_changed = Signal(bool)
    sr_steps_changed = Signal(int)
    respacing_changed = Signal(str)
    sr_respacing_changed = Signal(str)
    sr_sampler_changed = Signal(object)
    sr_guidance_scale_changed = Signal(float)
    ilvr_factor_changed = Signal(int)

    prompt = Property("")
    negative_prompt = Property("")
    mode = Property(Mode.TEXT)
    steps = Property(30)
    guidance_scale = Property(3.0)
    strength = Property(0.6)
    eta = Property(0.0)
    churn = Property(0.0)
    snr = Property(0.16)
    spacing = Property(Spacing.UNIFORM)
    class_guidance = Property(0.0)
    class_label = Property(0)
    noise_augmentation = Property(0.1)
    sampler = Property(SamplerKind.DDIM)
    seed = Property(1)
    seed_locked = Property(False)
    batch_size = Property(1)
    cascade = Property(True)
    sr_steps = Property(20)
    respacing = Property("")  # the base chain as a respacing string; "" = `steps`
    sr_respacing = Property("")  # the SR chain likewise; "" = `sr_steps`
    sr_sampler = Property("")  # the SR stage's own sampler (a SamplerKind or its value); "" = `sampler`
    sr_guidance_scale = Property(1.0)
    ilvr_factor = Property(4)

    def __init__(self, parent: QObject | None = None, rng: random.Random | None = None) -> None:
        super().__init__(parent)
        self._rng = rng or random.Random()

    def roll_seed(self) -> int:
        """A new random seed (the dice), unless the seed is locked."""
        if not self.seed_locked:
            self.seed = self._rng.randrange(0, 2**31)
        return self.seed

    def settings(self, *, with_classifier: bool, with_sr: bool = True) -> Settings:
        """The run's settings. A stage that will not run does not get its respacing string or sampler, so a
        half-typed SR string never blocks a run without the SR stage (nor ends up in its recipe)."""
        return Settings(
            prompt=self.prompt, negative_prompt=self.negative_prompt, seed=self.seed, steps=self.steps,
            sampler=self.sampler, eta=self.eta, churn=self.churn, snr=self.snr, spacing=self.spacing,
            guidance_scale=self.guidance_scale,
            class_label=self.class_label if with_classifier and self.class_guidance > 0 else None,
            class_guidance=self.class_guidance if with_classifier else 0.0,
            batch_size=self.batch_size, cascade=self.cascade, sr_steps=self.sr_steps,
            respacing=self.respacing.strip(), sr_respacing=self.sr_respacing.strip() if with_sr else "",
            sr_sampler=(self.sr_sampler or None) if with_sr else None,
            sr_guidance_scale=self.sr_guidance_scale if with_sr else 1.0,
            noise_augmentation=self.noise_augmentation, strength=self.strength, ilvr_factor=self.ilvr_factor,
        )

    def apply(self, recipe: Recipe) -> None:
        """Reuse the settings of a gallery result (its prompt, seed, sampler, …) and its mode. The seed is
        locked, so the next Generate reproduces the result; unlock it to explore."""
        s = recipe.settings
        self.seed_locked = True
        self.prompt, self.negative_prompt, self.seed, self.steps = s.prompt, s.negative_prompt, s.seed, s.steps
        self.sampler, self.eta, self.guidance_scale = s.sampler, s.eta, s.guidance_scale
        self.churn, self.snr, self.spacing, self.ilvr_factor = s.churn, s.snr, s.spacing, s.ilvr_factor
        self.class_guidance, self.class_label = s.class_guidance, s.class_label or 0
        self.batch_size, self.cascade, self.sr_steps = s.batch_size, s.cascade, s.sr_steps
        self.respacing, self.sr_respacing, self.sr_sampler = s.respacing, s.sr_respacing, s.sr_sampler or ""
        self.sr_guidance_scale = s.sr_guidance_scale
        self.noise_augmentation, self.strength = s.noise_augmentation, s.strength
        self.mode = Mode(recipe.kind.value)
