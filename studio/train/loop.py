"""The training loop: Ho et al. 2020, Algorithm 1 (uniform t, regress ε — or x₀ / v), for every role.

The squared error is plain or weighted over noise levels (`TrainRecipe.loss_weight`, see loss_weights.py).

AdamW with linear warm-up, gradient clipping, EMA weights, classifier-free caption dropout,
bf16 autocast and channels-last on a GPU. Every random draw of step n comes from a generator
seeded by (seed, n): a run resumed from a checkpoint computes exactly what an uninterrupted run
would have.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from studio.core.enums import LRSchedule, Role, VarianceType
from studio.diffusion.forward_process import q_sample
from studio.diffusion.parameterization import prediction_target
from studio.diffusion.schedule import make_schedule
from studio.models.config import ModelCard, ModelConfig
from studio.models.files import build_module, load_model, save_model
from studio.train.batches import Batch, StepRandom, TrainingData, make_batch
from studio.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from studio.train.datasets import ImageDataset
from studio.train.loss_weights import loss_weights
from studio.train.machine import describe_machine
from studio.train.model_setup import config_for, to_device
from studio.train.recipes import TrainRecipe
from studio.train.samples import save_sample_grid


@dataclass(frozen=True)
class TrainProgress:
    step: int
    total: int
    loss: float  # mean over the last logging window
    steps_per_second: float
    eta_seconds: float


@dataclass(frozen=True)
class TrainOutcome:
    model_path: Path
    checkpoint_path: Path
    steps_done: int
    finished: bool
    losses: tuple[float, ...]  # mean loss of each logging window


def train(
    recipe: TrainRecipe,
    data: ImageDataset,
    out: Path,
    *,
    card: ModelCard,
    device: torch.device | None = None,
    on_progress: Callable[[TrainProgress], None] | None = None,
    max_seconds: float | None = None,
    stop_at: int | None = None,
) -> TrainOutcome:
    """Train (or resume) toward `recipe.steps`; writes the checkpoint and, when done, the model file.

    `max_seconds` and `stop_at` end the run early with a checkpoint, to continue later. A recipe with
    `budget_minutes` ends (finished, annealed) when its wall-clock budget is spent, counted over every
    resumed part; such a run depends on the clock, so unlike a step-bounded one it is not bit-exact.
    """
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes every step: let cuDNN pick its fastest kernels
    ckpt_path = Path(out).with_suffix(".ckpt.safetensors")
    state = _TrainState.start(recipe, data, ckpt_path, device)
    on_device = to_device(data, state.config, recipe, device)
    target = min(recipe.steps, stop_at) if stop_at is not None else recipe.steps
    started, window, losses = time.perf_counter(), [], list(state.losses)
    first = state.step
    while state.step < target and state.progress() < 1.0:
        window.append(state.train_step(on_device))
        if state.step % recipe.log_every == 0 or state.step == target:
            losses.append(float(torch.stack(window).mean()))  # the only wait for the device, once a window
            rate = (state.step - first) / max(time.perf_counter() - started, 1e-9)
            if on_progress:
                on_progress(TrainProgress(state.step, recipe.steps, losses[-1], rate, state.eta_seconds(rate)))
            window = []
        if recipe.sample_every and state.step % recipe.sample_every == 0:
            save_sample_grid(state.ema_module().to(device), state.config, on_device,
                             ckpt_path.with_name(f"{Path(out).stem}-samples-{state.step:06d}.png"))
        timed_out = max_seconds is not None and time.perf_counter() - started > max_seconds
        spent = state.progress() >= 1.0
        if state.step % recipe.checkpoint_every == 0 or state.step == target or timed_out or spent:
            state.save(ckpt_path, losses)
        if timed_out:
            break
    finished = state.step >= recipe.steps or state.progress() >= 1.0
    if finished:
        done = (f"{state.step} steps of batch {recipe.batch_size} ({state.step * recipe.batch_size:,} images "
                f"seen) in {state.elapsed / 60:.1f} min on {describe_machine(device)}")
        save_model(out, state.ema_module(), state.config, replace(card, training=f"{card.training} {done}".strip()))
    return TrainOutcome(Path(out), ckpt_path, state.step, finished, tuple(losses))


class _TrainState:
    """The model, its EMA copy and the optimizer, and how one step of each role is computed."""

    def __init__(self, recipe: TrainRecipe, config: ModelConfig, device: torch.device) -> None:
        self.recipe, self.config, self.device = recipe, config, device
        torch.manual_seed(recipe.seed)
        # a GPU computes in bf16 with channels-last activations; the CPU in plain float32
        self.accelerated = device.type == "cuda"
        self.module = build_module(config).to(device)
        if self.accelerated:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.ema = {k: v.detach().clone().float() for k, v in self.module.state_dict().items()}
        self.optimizer = torch.optim.AdamW(
            self.module.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay
        )
        self.step = 0
        self.elapsed = 0.0  # seconds of training so far, over every resumed part
        self.losses: tuple[float, ...] = ()
        if config.role is not Role.CLASSIFIER:
            if config.diffusion.variance is VarianceType.LEARNED_RANGE:
                raise ValueError("training learned-variance models is not supported; import them instead")
        diffusion = config.diffusion
        self.alphas_cumprod = make_schedule(diffusion.schedule, diffusion.timesteps).alphas_cumprod.float().to(device)

    @classmethod
    def start(cls, recipe: TrainRecipe, data: ImageDataset, ckpt_path: Path, device) -> _TrainState:
        if ckpt_path.is_file():
            ckpt = load_checkpoint(ckpt_path)
            if not recipe.same_run_as(TrainRecipe.from_json(ckpt.recipe_json)):
                raise ValueError(f"{ckpt_path}: a checkpoint of a different recipe; delete it or change --out")
            state = cls(recipe, ModelConfig.from_json(ckpt.config_json), device)
            state.module.load_state_dict(ckpt.model)
            state.ema = {k: v.to(device).float() for k, v in ckpt.ema.items()}
            state.optimizer.load_state_dict(ckpt.optimizer)
            state.step, state.losses, state.elapsed = ckpt.step, ckpt.losses, ckpt.elapsed
            return state
        if recipe.init_from:
            return cls._fine_tuning(recipe, data, device)
        return cls(recipe, config_for(recipe, data), device)

    @classmethod
    def _fine_tuning(cls, recipe: TrainRecipe, data: ImageDataset, device) -> _TrainState:
        """Step 0 of a run that starts from a model file's weights (they become the EMA's start too)."""
        init = load_model(recipe.init_from)
        if init.info.in_place:
            raise ValueError(f"{recipe.init_from}: fine-tuning starts from the studio's own model files, "
                             f"not a {init.config.architecture.value} checkpoint")
        config = init.config
        if config.role is not recipe.role:
            raise ValueError(f"{recipe.init_from}: a {config.role.value} model cannot start a "
                             f"{recipe.role.value} run")
        if config.role is Role.CLASSIFIER:
            wanted = data.class_names(recipe.label) if recipe.label in data.labels else ()
            if tuple(config.classifier.class_names) != tuple(wanted):
                raise ValueError(f"{recipe.init_from}: its classes are not the data's {recipe.label!r} labels")
        state = cls(recipe, config, device)
        state.module.load_state_dict(init.module.state_dict())
        state.ema = {k: v.detach().clone().float() for k, v in state.module.state_dict().items()}
        return state

    def save(self, path: Path, losses: list[float]) -> None:
        save_checkpoint(path, Checkpoint(
            step=self.step, recipe_json=self.recipe.to_json(), config_json=self.config.to_json(),
            model=self.module.state_dict(), ema=self.ema, optimizer=self.optimizer.state_dict(),
            losses=tuple(losses), elapsed=self.elapsed,
        ))

    def progress(self) -> float:
        """Share of the run done: of its steps, or of its time budget when that comes first."""
        r = self.recipe
        done = self.step / r.steps
        if r.budget_minutes > 0:
            done = max(done, self.elapsed / (60 * r.budget_minutes))
        return done

    def eta_seconds(self, steps_per_second: float) -> float:
        by_steps = (self.recipe.steps - self.step) / max(steps_per_second, 1e-9)
        if self.recipe.budget_minutes > 0:
            return max(0.0, min(by_steps, 60 * self.recipe.budget_minutes - self.elapsed))
        return by_steps

    def learning_rate(self) -> float:
        r = self.recipe
        warm = min(1.0, (self.step + 1) / max(r.warmup_steps, 1))
        if r.lr_schedule is LRSchedule.CONSTANT:
            return r.learning_rate * warm
        # the cosine runs over progress after warm-up, so a clock-ended run finishes at the floor
        p = min(1.0, self.progress())
        return r.learning_rate * warm * (r.lr_floor + (1 - r.lr_floor) * 0.5 * (1 + math.cos(math.pi * p)))

    def ema_module(self) -> torch.nn.Module:
        module = build_module(self.config)
        module.load_state_dict({k: v.cpu() for k, v in self.ema.items()})
        return module.eval()

    def train_step(self, data: TrainingData) -> torch.Tensor:
        """One optimizer step; the loss stays on the device (reading it would wait for the GPU)."""
        r = self.recipe
        rand = StepRandom.for_step(r.seed, self.step, self.device)
        torch.manual_seed(rand.key)  # dropout layers, if any
        began = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        self.module.train()
        batch = make_batch(self.recipe, self.config, data, rand, self.alphas_cumprod)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.accelerated):
            loss = self._loss(batch, rand)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.module.parameters(), r.grad_clip, foreach=True)
        self.optimizer.step()
        self._update_ema()
        self.step += 1
        self.elapsed += time.perf_counter() - began
        return loss.detach()

    def _update_ema(self) -> None:
        if self.recipe.ema_power > 0:  # EDM2's power-function profile, see TrainRecipe.ema_power
            decay = (1 - 1 / (self.step + 1)) ** (self.recipe.ema_power + 1)
        else:
            decay = min(self.recipe.ema_decay, (1 + self.step) / (10 + self.step))
        averaged, current = [], []
        with torch.no_grad():
            for name, value in self.module.state_dict().items():
                if value.is_floating_point():
                    averaged.append(self.ema[name])
                    current.append(value.float())
                else:
                    self.ema[name].copy_(value)
            if averaged:  # one fused update, not a kernel launch per tensor
                torch._foreach_lerp_(averaged, current, 1 - decay)

    def _loss(self, batch: Batch, rand: StepRandom) -> torch.Tensor:
        n = batch.x0.shape[0]
        t = rand.randint(len(self.alphas_cumprod), (n,)).to(self.device)
        noise = rand.randn(tuple(batch.x0.shape)).to(self.device)
        abar = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        x_t = q_sample(batch.x0, abar, noise)
        if self.accelerated:
            x_t = x_t.contiguous(memory_format=torch.channels_last)
        if self.config.role is Role.CLASSIFIER:
            return F.cross_entropy(self.module(x_t, t).float(), batch.labels)
        kwargs = batch.conditioning(self.module, self.config)
        out = self.module(x_t, t, **kwargs).float()
        prediction = self.config.diffusion.prediction
        target = prediction_target(prediction, batch.x0, noise, abar)
        weights = loss_weights(self.recipe.loss_weight, prediction, abar, self.recipe.snr_gamma)
        return F.mse_loss(out, target) if weights is None else (weights * (out - target) ** 2).mean()
