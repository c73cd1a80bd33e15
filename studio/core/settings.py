"""The settings every job shares, and the recipe that reproduces a result."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Any

from studio.core.enums import SamplerKind, Spacing, Thresholding


class JobKind(str, Enum):
    TEXT_TO_IMAGE = "text-to-image"
    STROKES_TO_IMAGE = "strokes-to-image"
    INPAINT = "inpaint"
    UPSCALE = "upscale"
    ILVR = "ilvr"


class Stage(str, Enum):
    """Which model of the cascade a step belongs to."""

    BASE = "base"
    SR = "sr"


@dataclass(frozen=True)
class Settings:
    """Everything the user sets besides images and the model. Validated on construction."""

    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 30
    sampler: SamplerKind = SamplerKind.DDIM
    eta: float = 0.0
    churn: float = 0.0  # Karras's S_churn (Euler, Heun)
    snr: float = 0.16  # the Langevin corrector's signal-to-noise ratio (predictor–corrector)
    spacing: Spacing = Spacing.UNIFORM  # how the steps are picked from the training timesteps
    # the base stage's chain as OpenAI's timestep_respacing ("250", "10,10,10", "ddim25", "fast27"); "" = steps
    respacing: str = ""
    guidance_scale: float = 3.0
    class_label: int | None = None  # target class of classifier guidance
    class_guidance: float = 0.0
    thresholding: Thresholding = Thresholding.STATIC
    batch_size: int = 1
    cascade: bool = True  # run the super-resolution stage when the model has one
    sr_steps: int = 20
    sr_respacing: str = ""  # the super-resolution stage's chain as a respacing string ("fast27"); "" = sr_steps
    # the super-resolution stage's own sampler (glide-text2im: DDPM for its base, DDIM for the upsampler);
    # None = `sampler` for both stages
    sr_sampler: SamplerKind | None = None
    # classifier-free guidance of the super-resolution stage; 1 = none (the low-res image fixes the content,
    # and guidance doubles the stage's cost), the SD x4 upscaler's authors use 9
    sr_guidance_scale: float = 1.0
    noise_augmentation: float = 0.1  # s_aug of the cascade as a fraction of the process, in [0, 1]
    strength: float = 0.6  # SDEdit: start at round(strength · steps)
    repaint_jump: int = 1  # RePaint jump length; 1 with resample 1 is plain replacement
    repaint_resample: int = 1
    ilvr_factor: int = 4  # ILVR's down-sampling factor N: the result keeps the reference's N×N block means

    def __post_init__(self) -> None:
        object.__setattr__(self, "sampler", SamplerKind(self.sampler))
        object.__setattr__(self, "sr_sampler", SamplerKind(self.sr_sampler) if self.sr_sampler else None)
        object.__setattr__(self, "thresholding", Thresholding(self.thresholding))
        object.__setattr__(self, "spacing", Spacing(self.spacing))
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def sampler_for(self, stage: Stage) -> SamplerKind:
        """The sampler that walks `stage`'s chain."""
        return self.sr_sampler if stage is Stage.SR and self.sr_sampler is not None else self.sampler

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sampler"] = self.sampler.value
        data["sr_sampler"] = self.sr_sampler.value if self.sr_sampler is not None else None
        data["thresholding"] = self.thresholding.value
        data["spacing"] = self.spacing.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Build from a dict, ignoring unknown keys (recipes from newer versions still open)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Limit:
    """The allowed range of a setting: the window's controls span it and the CLI refuses what lies outside."""

    low: float
    high: float
    what: str  # how a message names the setting

    def problem(self, value: float) -> str | None:
        if self.low <= value <= self.high:
            return None
        return f"{self.what} must lie in [{_shown(self.low)}, {_shown(self.high)}], got {_shown(value)}"


def _shown(value: float) -> str:
    """Integers exactly (a seed bound of 2147483647, not 2.14748e+09); other numbers short."""
    return str(value) if isinstance(value, int) else f"{value:g}"


LIMITS: dict[str, Limit] = {
    "seed": Limit(0, 2**31 - 1, "seed"),  # the window's seed box holds 31 bits, so recipes do too
    "steps": Limit(1, 1000, "steps"),
    "sr_steps": Limit(1, 1000, "super-resolution steps"),
    "eta": Limit(0.0, 1.0, "DDIM η"),
    "churn": Limit(0.0, 100.0, "churn"),
    "snr": Limit(0.0, 1.0, "corrector SNR"),
    "guidance_scale": Limit(0.0, 30.0, "guidance scale"),
    "sr_guidance_scale": Limit(0.0, 30.0, "super-resolution guidance scale"),
    "class_guidance": Limit(0.0, 20.0, "class guidance"),
    "batch_size": Limit(1, 16, "batch size"),
    "noise_augmentation": Limit(0.0, 1.0, "noise augmentation"),
    "strength": Limit(0.0, 1.0, "strength"),
    "repaint_jump": Limit(1, 100, "RePaint jump length"),
    "repaint_resample": Limit(1, 100, "RePaint resample count"),
    "ilvr_factor": Limit(1, 64, "ILVR factor"),
}


RESPACING = re.compile(r"\d+(,\d+)*|ddim\d+|fast27")  # diffusion/respacing.py reads them against T


def _problems(s: Settings):
    for name, limit in LIMITS.items():
        problem = limit.problem(getattr(s, name))
        if problem:
            yield problem
    for name, what in (("respacing", "respacing"), ("sr_respacing", "super-resolution respacing")):
        problem = respacing_problem(getattr(s, name), what)
        if problem:
            yield problem


def respacing_problem(text: str, what: str = "respacing") -> str | None:
    """Why `text` is not a respacing string (its form only: whether the counts fit a model's T is for
    diffusion/respacing.py to say), or None; "" is fine: the step count decides."""
    if not isinstance(text, str):
        return f"{what} must be text, got {text!r}"
    if text and not RESPACING.fullmatch(text):
        return f"{what} {text!r} is not a step count, a list of counts, ddimN or fast27"
    return None


@dataclass(frozen=True)
class Recipe:
    """What reproduces a result on the same machine: job kind, model, settings, input digests."""

    kind: JobKind
    model: str  # display name of the model or cascade
    model_hash: str  # one sha256 over every file of the cascade (engine.models.CascadeModels.digest)
    settings: Settings
    width: int
    height: int
    inputs: tuple[tuple[str, str], ...] = ()  # (role, sha256) of input images: painting, mask, image
    fork: tuple[str, int] | None = None  # (stage, step number shown in the parent's timeline) it forked from

    def to_json(self) -> str:
        data = {
            "kind": self.kind.value,
            "model": self.model,
            "model_hash": self.model_hash,
            "settings": self.settings.to_dict(),
            "width": self.width,
            "height": self.height,
            "inputs": [list(pair) for pair in self.inputs],
            "fork": list(self.fork) if self.fork else None,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        try:
            data = json.loads(text)
            return cls(
                kind=JobKind(data["kind"]),
                model=str(data["model"]),
                model_hash=str(data["model_hash"]),
                settings=Settings.from_dict(data["settings"]),
                width=int(data["width"]),
                height=int(data["height"]),
                inputs=tuple((str(a), str(b)) for a, b in data.get("inputs", [])),
                fork=tuple(data["fork"]) if data.get("fork") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a valid recipe: {exc}") from exc
