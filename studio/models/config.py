"""Frozen configs of every network and of a model file, stored as JSON in the file's metadata."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from typing import Any

from studio.core.enums import (
    Architecture,
    NetKind,
    Pooling,
    PredictionType,
    Role,
    ScheduleKind,
    TextPooling,
    VarianceType,
)
from studio.models.sd.config import SD1Config


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _plain(value: Any) -> Any:
    """Dataclass dicts → JSON-friendly values (enums to their strings, tuples to lists)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(cls, data: Any, where: str):
    """Construct dataclass `cls` from a dict, checking names and the types of plain fields."""
    _check(isinstance(data, dict), f"{where} must be an object")
    names = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(names)
    _check(not unknown, f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls, name, None) if not isinstance(getattr(cls, name, None), property) else None
        if isinstance(default, tuple):
            _check(isinstance(value, list | tuple), f"{where}.{name} must be a list")
            value = tuple(value)
        elif isinstance(default, bool):
            _check(isinstance(value, bool), f"{where}.{name} must be true or false")
        elif isinstance(default, int) and not isinstance(default, bool):
            _check(isinstance(value, int) and not isinstance(value, bool), f"{where}.{name} must be an integer")
        elif isinstance(default, float):
            _check(isinstance(value, int | float) and not isinstance(value, bool), f"{where}.{name} must be a number")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 3
    extra_channels: int = 0  # cascade: the upsampled low-res image (3); inpaint: mask + masked image (4)
    out_channels: int = 3
    learn_sigma: bool = False  # doubles the output: the second half interpolates log β and log β̃
    model_channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = (16, 8)  # feature-map sizes (pixels) with attention
    num_head_channels: int = 32
    dropout: float = 0.0
    resolution: int = 32
    text_dim: int = 0  # width of the text encoder's features; 0 = not text-conditioned
    num_classes: int = 0  # 0 = not class-conditional
    aug_level_embedding: bool = False  # SR: embed the noise-augmentation level

    def __post_init__(self) -> None:
        _check(self.in_channels > 0 and self.out_channels > 0, "unet channels must be positive")
        _check(self.extra_channels >= 0, "unet.extra_channels must be ≥ 0")
        _check(self.model_channels % 32 == 0, "unet.model_channels must be a multiple of 32 (GroupNorm)")
        _check(len(self.channel_mult) >= 1 and all(m > 0 for m in self.channel_mult),
               "unet.channel_mult must be positive integers")
        _check(self.num_res_blocks >= 1, "unet.num_res_blocks must be ≥ 1")
        _check(self.num_head_channels > 0, "unet.num_head_channels must be positive")
        widths = [self.model_channels * m for m in self.channel_mult]
        _check(all(w % self.num_head_channels == 0 for w in widths),
               "every unet width must be a multiple of num_head_channels")
        _check(self.resolution % 2 ** (len(self.channel_mult) - 1) == 0,
               f"unet.resolution {self.resolution} must be divisible by 2^(levels−1)")
        reachable = {self.resolution // 2**i for i in range(len(self.channel_mult))}
        bad = [r for r in self.attention_resolutions if r not in reachable]
        _check(not bad, f"unet.attention_resolutions {bad} are not feature-map sizes of this U-Net")
        _check(0.0 <= self.dropout < 1.0, "unet.dropout must lie in [0, 1)")
        _check(self.text_dim >= 0 and self.num_classes >= 0, "unet.text_dim and num_classes must be ≥ 0")

    @property
    def output_channels(self) -> int:
        return self.out_channels * (2 if self.learn_sigma else 1)


@dataclass(frozen=True)
class TextEncoderConfig:
    vocab: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")
    width: int = 128
    layers: int = 2
    heads: int = 4
    max_length: int = 24
    # files written before this field existed pool at <eos>; new presets take the mean (docs/training.md)
    pooling: TextPooling = TextPooling.EOS

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "pooling", TextPooling(self.pooling))
        except ValueError:
            raise ValueError(f"text.pooling must be one of: {', '.join(p.value for p in TextPooling)}") from None
        _check(tuple(self.vocab[:4]) == ("<pad>", "<unk>", "<bos>", "<eos>"),
               "text.vocab must start with <pad>, <unk>, <bos>, <eos>")
        _check(len(set(self.vocab)) == len(self.vocab), "text.vocab has duplicate words")
        _check(self.width > 0 and self.heads > 0 and self.width % self.heads == 0,
               "text.width must be a positive multiple of text.heads")
        _check(self.layers >= 1 and self.max_length >= 2, "text.layers ≥ 1 and text.max_length ≥ 2")


@dataclass(frozen=True)
class ClassifierConfig:
    in_channels: int = 3
    model_channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = (8,)
    num_head_channels: int = 32
    resolution: int = 32
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(len(self.class_names) >= 2, "classifier.class_names needs at least two classes")
        # the encoder half must satisfy the same rules as a U-Net of the same shape
        self.encoder()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def encoder(self) -> UNetConfig:
        return UNetConfig(
            in_channels=self.in_channels, model_channels=self.model_channels,
            channel_mult=self.channel_mult, num_res_blocks=self.num_res_blocks,
            attention_resolutions=self.attention_resolutions,
            num_head_channels=self.num_head_channels, resolution=self.resolution,
        )


@dataclass(frozen=True)
class GlideTextConfig:
    """GLIDE's text transformer (the `xf_*` flags of glide-text2im)."""

    text_ctx: int = 128
    width: int = 512
    layers: int = 16
    heads: int = 8
    final_ln: bool = True
    padding: bool = True  # a learned embedding replaces the padded positions
    vocab_size: int = 50257
    merges: tuple[str, ...] = ()  # GPT-2's byte-level BPE merges, in rank order: the vocabulary, in the file

    def __post_init__(self) -> None:
        _check(self.width > 0 and self.heads > 0 and self.width % self.heads == 0,
               "openai.text.width must be a positive multiple of heads")
        _check(self.layers >= 1 and self.text_ctx >= 1 and self.vocab_size >= 1,
               "openai.text layers, text_ctx and vocab_size must be ≥ 1")
        # byte-level BPE: 256 byte symbols, one token per merge, <|endoftext|>
        _check(not self.merges or len(self.merges) + 257 == self.vocab_size,
               f"openai.text has {len(self.merges)} merges, which make {len(self.merges) + 257} tokens, "
               f"not vocab_size {self.vocab_size}")


# OpenAI's networks of one file: the keyword arguments of their UNetModel / SuperResModel /
# EncoderUNetModel / Text2ImUNet, with attention given as downsample rates as those classes take it.
@dataclass(frozen=True)
class OpenAINetConfig:
    kind: NetKind = NetKind.UNET
    image_size: int = 64
    in_channels: int = 3  # image channels; the kind adds the low-res and inpainting channels
    model_channels: int = 128
    out_channels: int = 3  # 6 with learned variance; the number of classes for a classifier
    num_res_blocks: int = 2
    attention_ds: tuple[int, ...] = (4, 8)  # downsample rates 1, 2, 4, … with attention
    channel_mult: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)  # 0.5 occurs (ADM 512)
    num_classes: int = 0
    num_heads: int = 1
    num_head_channels: int = -1  # > 0: heads = channels // this, overriding num_heads
    num_heads_upsample: int = -1
    use_scale_shift_norm: bool = True
    resblock_updown: bool = False
    conv_resample: bool = True
    dropout: float = 0.0
    pool: Pooling = Pooling.ATTENTION  # classifiers only
    rescale_timesteps: bool = False  # improved-diffusion: the network sees t·1000/T
    preset: str = ""  # the public file it was imported as (its authors' sampling settings); "" from flags
    text: GlideTextConfig | None = None

    def __post_init__(self) -> None:
        for name, kind in (("kind", NetKind), ("pool", Pooling)):
            try:
                object.__setattr__(self, name, kind(getattr(self, name)))
            except ValueError:
                raise ValueError(f"openai.{name} {getattr(self, name)!r} is not one of "
                                 f"{[k.value for k in kind]}") from None
        object.__setattr__(self, "channel_mult", tuple(float(m) for m in self.channel_mult))
        _check(self.model_channels > 0 and self.in_channels > 0 and self.out_channels > 0,
               "openai channels must be positive")
        _check(len(self.channel_mult) >= 1 and all(m > 0 for m in self.channel_mult),
               "openai.channel_mult must be positive")
        _check(all(int(m * self.model_channels) % 32 == 0 for m in self.channel_mult),
               "every openai width must be a multiple of 32 (GroupNorm with 32 groups)")
        _check(self.num_res_blocks >= 1, "openai.num_res_blocks must be ≥ 1")
        _check(self.num_head_channels > 0 or self.num_heads > 0, "openai needs num_heads or num_head_channels")
        _check(self.image_size % 2 ** (len(self.channel_mult) - 1) == 0,
               f"openai.image_size {self.image_size} must be divisible by 2^(levels−1)")
        _check(self.num_classes >= 0, "openai.num_classes must be ≥ 0")
        _check(self.text is None or self.kind is not NetKind.CLASSIFIER, "a classifier takes no text")

    @property
    def input_channels(self) -> int:
        """The first convolution's input: x_t plus what the kind concatenates to it."""
        extra = {NetKind.SUPER_RES: 1, NetKind.INPAINT: 1, NetKind.SUPER_RES_INPAINT: 2}.get(self.kind, 0)
        extra_mask = 1 if self.kind in (NetKind.INPAINT, NetKind.SUPER_RES_INPAINT) else 0
        return self.in_channels * (1 + extra) + extra_mask

    @classmethod
    def from_dict(cls, data: Any) -> OpenAINetConfig:
        _check(isinstance(data, dict), "openai must be an object")
        data = dict(data)
        text = data.pop("text", None)
        config = _build(cls, data, "openai")
        if text is not None:
            config = replace(config, text=_build(GlideTextConfig, text, "openai.text"))
        return config


@dataclass(frozen=True)
class DiffusionConfig:
    schedule: ScheduleKind = ScheduleKind.COSINE
    timesteps: int = 1000
    prediction: PredictionType = PredictionType.EPSILON
    variance: VarianceType = VarianceType.POSTERIOR
    # The DDIM η the model samples best with, the settings' default when it is opened. A network trained
    # for minutes has score errors that the deterministic η = 0 carries to the end as grain; the fresh
    # noise of η = 1 washes them out (docs/training.md §GPU).
    sample_eta: float = 0.0
    # SR models: the share of the chain the cascade's SR stage runs, starting from the upsampled low-res
    # image noised to that point rather than from pure noise. An ε-model's x̂₀ is ill-defined where ᾱ → 0,
    # and a briefly trained one fixes wrong colours there that the low-res image then cannot undo.
    sample_strength: float = 1.0

    def __post_init__(self) -> None:
        _check(0.0 <= self.sample_eta <= 1.0, "diffusion.sample_eta must lie in [0, 1]")
        _check(0.0 < self.sample_strength <= 1.0, "diffusion.sample_strength must lie in (0, 1]")
        for name, kind in (("schedule", ScheduleKind), ("prediction", PredictionType),
                           ("variance", VarianceType)):
            try:
                object.__setattr__(self, name, kind(getattr(self, name)))
            except ValueError:
                raise ValueError(f"diffusion.{name} {getattr(self, name)!r} is not one of "
                                 f"{[k.value for k in kind]}") from None
        _check(2 <= self.timesteps <= 10_000, "diffusion.timesteps must lie in [2, 10000]")


OPENAI_ARCHITECTURES = frozenset({Architecture.ADM, Architecture.IDDPM, Architecture.GLIDE})
ROLE_OF_KIND = {NetKind.UNET: Role.BASE, NetKind.SUPER_RES: Role.SR, NetKind.INPAINT: Role.INPAINT,
                NetKind.SUPER_RES_INPAINT: Role.SR, NetKind.CLASSIFIER: Role.CLASSIFIER}


@dataclass(frozen=True)
class ModelConfig:
    role: Role
    resolution: int
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    unet: UNetConfig | None = None
    text: TextEncoderConfig | None = None
    classifier: ClassifierConfig | None = None
    low_res: int | None = None  # SR only: the size of the low-resolution input
    architecture: Architecture = Architecture.STUDIO  # the family (models.families); absent in older files
    openai: OpenAINetConfig | None = None  # the network of an imported OpenAI checkpoint (adm, iddpm, glide)
    sd: SD1Config | None = None  # architectures sd1 and sd-x4: read off the checkpoint's shapes, never stored

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "role", Role(self.role))
        except ValueError:
            raise ValueError(f"role {self.role!r} is not one of {[r.value for r in Role]}") from None
        try:
            object.__setattr__(self, "architecture", Architecture(self.architecture))
        except ValueError:
            raise ValueError(f"architecture {self.architecture!r} is not one of "
                             f"{[a.value for a in Architecture]}") from None
        if self.architecture is Architecture.SD1:
            _check(self.sd is not None and self.role in (Role.BASE, Role.INPAINT),
                   "an sd1 model needs its sd config and is a base or inpainting model")
            return
        if self.architecture is Architecture.SD_X4:
            _check(self.sd is not None and self.sd.upscaler and self.role is Role.SR and self.low_res is not None,
                   "an sd-x4 model needs its sd config and is a super-resolution model with low_res")
            return
        if self.architecture in OPENAI_ARCHITECTURES:
            self._check_openai()
            return
        _check(self.openai is None, f"an openai config needs architecture adm, iddpm or glide, "
                                    f"not {self.architecture.value}")
        if self.role is Role.CLASSIFIER:
            _check(self.classifier is not None, "a classifier model needs a classifier config")
            _check(self.classifier.resolution == self.resolution, "classifier.resolution ≠ resolution")
            return
        u = self.unet
        _check(u is not None, f"a {self.role.value} model needs a unet config")
        _check(u.resolution == self.resolution, "unet.resolution must equal the model's resolution")
        _check(u.learn_sigma == (self.diffusion.variance is VarianceType.LEARNED_RANGE),
               "unet.learn_sigma must be set exactly when diffusion.variance is learned_range")
        if self.text is not None:
            _check(u.text_dim == self.text.width, "unet.text_dim must equal text.width")
        else:
            _check(u.text_dim == 0, "unet.text_dim is set but there is no text encoder")
        if self.role is Role.SR:
            _check(self.low_res is not None and 0 < self.low_res < self.resolution,
                   "an sr model needs low_res smaller than its resolution")
            _check(u.extra_channels == 3 and u.aug_level_embedding,
                   "an sr model needs 3 extra channels and the augmentation-level embedding")
        elif self.role is Role.INPAINT:
            _check(u.extra_channels == 4, "an inpaint model needs 4 extra channels (mask, masked image)")

    @property
    def label_classes(self) -> int:
        """How many class labels the network is conditioned on (0: none)."""
        if self.openai is not None:
            return 0 if self.role is Role.CLASSIFIER else self.openai.num_classes
        return self.unet.num_classes if self.unet is not None else 0

    @property
    def class_names(self) -> tuple[str, ...]:
        """A classifier's classes; an OpenAI classifier's are ImageNet's indices."""
        if self.role is not Role.CLASSIFIER:
            return ()
        if self.openai is not None:
            return tuple(str(i) for i in range(self.openai.out_channels))
        return self.classifier.class_names

    def _check_openai(self) -> None:
        net = self.openai
        _check(net is not None, f"a {self.architecture.value} model needs an openai config")
        _check(self.unet is None and self.text is None and self.classifier is None,
               f"a {self.architecture.value} model has only an openai config")
        _check(net.image_size == self.resolution, "openai.image_size must equal the model's resolution")
        _check(ROLE_OF_KIND[net.kind] is self.role,
               f"an openai {net.kind.value} network has role {ROLE_OF_KIND[net.kind].value}, not {self.role.value}")
        if self.role is Role.CLASSIFIER:
            return
        learned = self.diffusion.variance is VarianceType.LEARNED_RANGE
        _check(net.out_channels == net.in_channels * (2 if learned else 1),
               "openai.out_channels must be twice the image channels exactly when the variance is learned")
        if net.kind in (NetKind.SUPER_RES, NetKind.SUPER_RES_INPAINT):
            _check(self.low_res is not None and 0 < self.low_res < self.resolution,
                   "an openai upsampler needs low_res smaller than its resolution")

    def to_dict(self) -> dict[str, Any]:
        data = _plain(asdict(self))
        if data["sd"] is None:  # studio files: written exactly as before SD 1.x files could be read
            del data["sd"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        _check(isinstance(data, dict), "config must be an object")
        _check("role" in data and "resolution" in data, "config needs role and resolution")
        parts = {"diffusion": DiffusionConfig, "unet": UNetConfig, "text": TextEncoderConfig,
                 "classifier": ClassifierConfig, "openai": OpenAINetConfig}
        kwargs = {k: v for k, v in data.items() if k not in parts}
        unknown = set(kwargs) - {"role", "resolution", "low_res", "architecture"}
        _check(not unknown, f"config has unknown fields: {', '.join(sorted(unknown))}")
        for name, part in parts.items():
            if data.get(name) is not None:
                kwargs[name] = part.from_dict(data[name]) if name == "openai" else _build(part, data[name], name)
        _check(isinstance(data["resolution"], int), "resolution must be an integer")
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config is not valid JSON ({exc.msg})") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class ModelCard:
    name: str = ""
    description: str = ""
    training_data: str = ""
    licence: str = ""
    training: str = ""  # steps, hardware, time

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        try:
            return _build(cls, json.loads(text), "card")
        except json.JSONDecodeError as exc:
            raise ValueError(f"card is not valid JSON ({exc.msg})") from None
