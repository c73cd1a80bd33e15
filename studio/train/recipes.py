"""Training recipes: everything a training run needs besides its data, as a frozen dataclass.

Built-in recipes are named (`studio train --recipe base-32`); a JSON file with the same fields
(and a `model` preset name) works too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from studio.core.enums import LossWeight, LRSchedule, Role


@dataclass(frozen=True)
class TrainRecipe:
    role: Role
    model: str  # a preset of studio.models.presets, e.g. "gpu_base_32"
    steps: int = 20_000
    batch_size: int = 128
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 500
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    # Karras et al. 2024 (EDM2) power-function EMA: decay_n = (1 − 1/n)^(γ+1) averages a fixed *share* of
    # the run so far, so a run ended by the clock has a well-placed average whatever step it reached.
    # 0 keeps the fixed `ema_decay`.
    ema_power: float = 0.0
    lr_schedule: LRSchedule = LRSchedule.CONSTANT
    lr_floor: float = 0.05  # COSINE ends at this share of the peak rate
    budget_minutes: float = 0.0  # > 0: the schedules follow this wall-clock budget and the run ends in it
    caption_dropout: float = 0.15  # classifier-free guidance needs the model to know the empty prompt
    loss_weight: LossWeight = LossWeight.UNIFORM  # across noise levels; see studio/train/loss_weights.py
    snr_gamma: float = 5.0  # γ of LossWeight.MIN_SNR
    sr_aug_max: float = 0.25  # SR noise-conditioning augmentation: s_aug ~ U[0, sr_aug_max·T)
    # > 0: the SR stage learns on random crops of this side (SR3 and Imagen train their fully convolutional
    # upsamplers so): a 64-px crop of a 128-px target costs a quarter of the whole image
    sr_crop: int = 0
    label: str = "subgroup"  # which label kind a classifier learns
    # a model file to start from (fine-tuning): its architecture, vocabulary and weights replace the
    # preset's; "" trains from scratch
    init_from: str = ""
    seed: int = 0
    sample_every: int = 2_000
    checkpoint_every: int = 1_000
    log_every: int = 50
    note: str = ""  # expected time and hardware, for docs and the model card

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "lr_schedule", LRSchedule(self.lr_schedule))
        object.__setattr__(self, "loss_weight", LossWeight(self.loss_weight))
        if self.steps < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("steps, batch size and learning rate must be positive")
        if not 0.0 <= self.caption_dropout < 1.0 or not 0.0 <= self.ema_decay < 1.0:
            raise ValueError("caption dropout and EMA decay must lie in [0, 1)")
        if self.sr_crop < 0:
            raise ValueError("the SR crop must be 0 (whole images) or a positive side in pixels")
        if self.ema_power < 0 or self.budget_minutes < 0 or not 0.0 <= self.lr_floor <= 1.0:
            raise ValueError("EMA power and budget must be ≥ 0 and the learning-rate floor in [0, 1]")
        if self.snr_gamma <= 0:
            raise ValueError("the Min-SNR γ must be positive")

    def with_(self, **changes: Any) -> TrainRecipe:
        return replace(self, **changes)

    def to_json(self) -> str:
        data = asdict(self) | {"role": self.role.value, "lr_schedule": self.lr_schedule.value,
                               "loss_weight": self.loss_weight.value}
        return json.dumps(data, sort_keys=True)

    def same_run_as(self, other: TrainRecipe) -> bool:
        """Whether a checkpoint of `other` can be continued under this recipe: everything but the length
        (steps, time budget) and the reporting intervals must agree, so a finished run can be extended."""
        free = dict(steps=1, budget_minutes=0.0, sample_every=0, checkpoint_every=1, log_every=1, note="")
        return replace(self, **free) == replace(other, **free)

    @classmethod
    def from_json(cls, text: str) -> TrainRecipe:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown recipe fields: {', '.join(sorted(unknown))}")
        return cls(**data)


BUILTIN: dict[str, TrainRecipe] = {
    # The GPU cascade (docs/training.md §GPU): the three run at once on one GPU, each inside its own
    # wall-clock budget (`studio train-all`); batches sized so a step is GPU work, not Python overhead.
    "gpu-base": TrainRecipe(
        role=Role.BASE, model="gpu_base_32", steps=1_000_000, batch_size=256, learning_rate=4e-4,
        warmup_steps=300, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=7.0,
        caption_dropout=0.15, sample_every=0, checkpoint_every=1_000, log_every=100,
        note="7 min on one GPU beside the SR and classifier runs (bf16)",
    ),
    "gpu-sr": TrainRecipe(
        role=Role.SR, model="gpu_sr_128", steps=1_000_000, batch_size=128, learning_rate=3e-4,
        warmup_steps=300, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=7.0, sr_crop=64,
        sample_every=0, checkpoint_every=1_000, log_every=100,
        note="7 min on one GPU beside the base and classifier runs (bf16), on 64-px crops",
    ),
    "gpu-classifier": TrainRecipe(
        role=Role.CLASSIFIER, model="gpu_classifier_32", steps=1_000_000, batch_size=256, learning_rate=1e-3,
        warmup_steps=200, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=3.0,
        caption_dropout=0.0, label="group", sample_every=0, checkpoint_every=1_000, log_every=100,
        note="3 min on one GPU beside the base and SR runs (bf16); it reached 1.000 on the real images "
             "long before 7 min, so it hands the GPU to them",
    ),
    # The CPU starter (docs/training.md §CPU): batch and rates chosen for two cores; each recipe ends
    # annealed inside its wall-clock budget, whatever step the machine reaches.
    "cpu-base": TrainRecipe(
        role=Role.BASE, model="cpu_base_16", steps=1_000_000, batch_size=32, learning_rate=1e-3,
        warmup_steps=200, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=105,
        caption_dropout=0.15, sample_every=0, checkpoint_every=250, log_every=50,
        note="105 min on a 2-core AVX2 CPU, one thread, beside the SR and classifier runs",
    ),
    "cpu-sr": TrainRecipe(
        role=Role.SR, model="cpu_sr_16", steps=1_000_000, batch_size=16, learning_rate=1e-3,
        warmup_steps=200, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=105,
        sample_every=0, checkpoint_every=250, log_every=50,
        note="105 min on a 2-core AVX2 CPU, one thread, beside the base run",
    ),
    "cpu-classifier": TrainRecipe(
        role=Role.CLASSIFIER, model="cpu_classifier_16", steps=1_000_000, batch_size=64, learning_rate=2e-3,
        warmup_steps=100, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=20,
        caption_dropout=0.0, label="group", sample_every=0, checkpoint_every=250, log_every=50,
        note="20 min on a 2-core AVX2 CPU, one thread, after the SR run",
    ),
    # Fine-tuning the shipped GPU base on two cores (`--init resources/models/default/base.safetensors`):
    # batch 32 is an eighth of the GPU run's, so the rate is set for the same noise per image as that
    # run's late steps (rate ÷ batch); at 1e-4 the loss rose by a third within 200 steps.
    "cpu-finetune-base": TrainRecipe(
        role=Role.BASE, model="gpu_base_32", steps=1_000_000, batch_size=32, learning_rate=3e-5,
        warmup_steps=200, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=100,
        caption_dropout=0.15, sample_every=0, checkpoint_every=250, log_every=50,
        note="a fine-tune on a 2-core AVX2 CPU, two threads",
    ),
    # The same fine-tune with Min-SNR-5 weighting: the plain ε loss gives the large-noise steps, where the
    # prompt decides the picture, almost no weight (studio/train/loss_weights.py).
    "cpu-finetune-prompt": TrainRecipe(
        role=Role.BASE, model="gpu_base_32", steps=1_000_000, batch_size=32, learning_rate=3e-5,
        warmup_steps=200, ema_power=6.94, lr_schedule=LRSchedule.COSINE, budget_minutes=85,
        caption_dropout=0.15, loss_weight=LossWeight.MIN_SNR, snr_gamma=5.0, sample_every=0,
        checkpoint_every=250, log_every=50,
        note="a Min-SNR fine-tune of the GPU base on a 2-core AVX2 CPU, two threads",
    ),
    "tiny-base": TrainRecipe(
        role=Role.BASE, model="tiny_base", steps=300, batch_size=8, learning_rate=2e-3,
        warmup_steps=10, ema_decay=0.9, caption_dropout=0.0, sample_every=0, checkpoint_every=100,
        note="a CPU smoke test",
    ),
    "tiny-sr": TrainRecipe(
        role=Role.SR, model="tiny_sr", steps=100, batch_size=4, learning_rate=1e-3, warmup_steps=10,
        ema_decay=0.9, sample_every=0, checkpoint_every=50, note="a CPU smoke test",
    ),
    "tiny-classifier": TrainRecipe(
        role=Role.CLASSIFIER, model="tiny_classifier", steps=100, batch_size=8, learning_rate=1e-3,
        warmup_steps=10, caption_dropout=0.0, sample_every=0, checkpoint_every=50,
        note="a CPU smoke test",
    ),
}


def load_recipe(name_or_path: str) -> TrainRecipe:
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(sorted(BUILTIN))
        raise ValueError(f"no recipe called {name_or_path!r} (built-in: {names}) and no such file")
    return TrainRecipe.from_json(path.read_text(encoding="utf-8"))
