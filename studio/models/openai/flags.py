"""A checkpoint's network and diffusion from the reference's own settings, in either form users have:

- the command-line flags of the reference scripts (`model_and_diffusion_defaults()` names and string
  forms: `"attention_resolutions": "32,16,8"`, `"channel_mult": ""`, `"class_cond": "True"`), where
  each family's defaults fill what is not given; `large_size`/`small_size` mean an upsampler and
  `classifier_*` flags a classifier;
- the keyword arguments of the model class (`UNetModel`, `SuperResModel`, `EncoderUNetModel`, GLIDE's
  `Text2ImUNet` …): `model_channels`, `attention_resolutions` as downsample rates, `channel_mult` as a
  list; `model_class` names the class (default UNetModel), and diffusion flags may sit beside them.

The result is an `ImportSpec`: our `ModelConfig` plus what only the import needs (the attention order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.core.enums import Architecture, NetKind, Pooling, PredictionType, Role, ScheduleKind, VarianceType
from studio.models.config import (
    ROLE_OF_KIND,
    DiffusionConfig,
    GlideTextConfig,
    ModelConfig,
    OpenAINetConfig,
)

NUM_CLASSES = 1000  # ImageNet


@dataclass(frozen=True)
class ImportSpec:
    config: ModelConfig
    new_attention_order: bool = False  # [Q|K|V] then heads (ADM's --use_new_attention_order); else per-head [q k v]


_COMMON = dict(image_size=64, num_channels=128, num_res_blocks=2, num_heads=4, num_heads_upsample=-1,
               num_head_channels=-1, attention_resolutions="16,8", channel_mult="", dropout=0.0, class_cond=False,
               use_scale_shift_norm=True, resblock_updown=False, use_new_attention_order=False, learn_sigma=False,
               sigma_small=False, diffusion_steps=1000, noise_schedule="linear", predict_xstart=False,
               rescale_timesteps=False)
DEFAULTS: dict[Architecture, dict[str, Any]] = {
    Architecture.ADM: _COMMON,
    Architecture.IDDPM: _COMMON | dict(rescale_timesteps=True),
    Architecture.GLIDE: _COMMON | dict(num_channels=192, num_res_blocks=3, num_heads=1, num_head_channels=64,
                                       attention_resolutions="32,16,8", dropout=0.1, text_ctx=128, xf_width=512,
                                       xf_layers=16, xf_heads=8, xf_final_ln=True, xf_padding=True,
                                       noise_schedule="squaredcos_cap_v2", resblock_updown=True, learn_sigma=True,
                                       inpaint=False, super_res=False),
}
CLASSIFIER_DEFAULTS = dict(classifier_width=128, classifier_depth=2, classifier_attention_resolutions="32,16,8",
                           classifier_use_scale_shift_norm=True, classifier_resblock_updown=True,
                           classifier_pool="attention")
# channel_mult "" → by image size, as each reference's create_model decides
_MULTS = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4),
          32: (1, 2, 2, 2)}
_SR_MULTS = {512: (1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 64: (1, 2, 3, 4)}
_SCHEDULES = {"linear": ScheduleKind.LINEAR, "cosine": ScheduleKind.COSINE,
              "squaredcos_cap_v2": ScheduleKind.COSINE}  # GLIDE's name for improved-diffusion's cosine
_CLASSES = {"UNetModel": NetKind.UNET, "Text2ImUNet": NetKind.UNET, "SuperResModel": NetKind.SUPER_RES,
            "SuperResText2ImUNet": NetKind.SUPER_RES, "InpaintText2ImUNet": NetKind.INPAINT,
            "SuperResInpaintText2ImUnet": NetKind.SUPER_RES_INPAINT, "EncoderUNetModel": NetKind.CLASSIFIER}


def spec_from_flags(architecture: Architecture, flags: dict[str, Any]) -> ImportSpec:
    """ValueError naming the flag when one is unknown or malformed."""
    if not isinstance(flags, dict):
        raise ValueError("flags must be a JSON object")
    if "model_channels" in flags:
        return _from_kwargs(architecture, flags)
    return _from_cli_flags(architecture, flags)


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "true", "t", "y", "1", "no", "false", "f", "n", "0"):
        return value.lower() in ("yes", "true", "t", "y", "1")
    raise ValueError(f"flag {name} must be true or false, got {value!r}")


def _ints(value: Any, name: str) -> tuple[float, ...]:
    try:
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(float(v) for v in items if str(v).strip() != "")
    except (TypeError, ValueError):
        raise ValueError(f"flag {name} must be a comma-separated list of numbers, got {value!r}") from None


def _from_cli_flags(architecture: Architecture, flags: dict[str, Any]) -> ImportSpec:
    classifier = any(k.startswith("classifier_") for k in flags)
    known = set(DEFAULTS[architecture]) | set(CLASSIFIER_DEFAULTS) | {
        "large_size", "small_size", "use_fp16", "use_checkpoint", "timestep_respacing", "use_kl",
        "rescale_learned_sigmas", "cache_text_emb", "classifier_use_fp16", "classifier_scale"}
    unknown = sorted(set(flags) - known)
    if unknown:
        raise ValueError(f"unknown flag {unknown[0]!r} for {architecture.value}")
    f = DEFAULTS[architecture] | (CLASSIFIER_DEFAULTS if classifier else {}) | flags
    b = {name: _bool(f[name], name) for name in ("class_cond", "learn_sigma", "sigma_small", "use_scale_shift_norm",
                                                  "resblock_updown", "use_new_attention_order", "predict_xstart",
                                                  "rescale_timesteps", "inpaint", "super_res",
                                                  "classifier_use_scale_shift_norm", "classifier_resblock_updown",
                                                  "xf_final_ln", "xf_padding") if name in f}
    super_res = "large_size" in flags or b.get("super_res", False)
    size = int(f.get("large_size", f["image_size"]) if "large_size" in flags else f["image_size"])
    low = int(f.get("small_size", 64)) if super_res else None
    kind = (NetKind.CLASSIFIER if classifier else NetKind.SUPER_RES_INPAINT if super_res and b.get("inpaint")
            else NetKind.SUPER_RES if super_res else NetKind.INPAINT if b.get("inpaint") else NetKind.UNET)
    table = _SR_MULTS if super_res and architecture is not Architecture.GLIDE else _MULTS
    mult = _ints(f["channel_mult"], "channel_mult") if not classifier and f["channel_mult"] != "" else table.get(size)
    if mult is None:
        raise ValueError(f"no channel_mult for image size {size}: give channel_mult")
    attention = "classifier_attention_resolutions" if classifier else "attention_resolutions"
    ds = tuple(size // int(r) for r in _ints(f[attention], attention))
    learned = b["learn_sigma"] or architecture is Architecture.GLIDE
    if classifier:
        net = OpenAINetConfig(
            kind=kind, image_size=size, model_channels=int(f["classifier_width"]), out_channels=NUM_CLASSES,
            num_res_blocks=int(f["classifier_depth"]), attention_ds=ds, channel_mult=mult, num_head_channels=64,
            use_scale_shift_norm=b["classifier_use_scale_shift_norm"], resblock_updown=b["classifier_resblock_updown"],
            pool=Pooling(f["classifier_pool"]))
    else:
        text = None
        if architecture is Architecture.GLIDE and int(f["xf_width"]):
            text = GlideTextConfig(text_ctx=int(f["text_ctx"]), width=int(f["xf_width"]), layers=int(f["xf_layers"]),
                                   heads=int(f["xf_heads"]), final_ln=b["xf_final_ln"], padding=b["xf_padding"])
        net = OpenAINetConfig(
            kind=kind, image_size=size, model_channels=int(f["num_channels"]), out_channels=6 if learned else 3,
            num_res_blocks=int(f["num_res_blocks"]), attention_ds=ds, channel_mult=mult,
            num_classes=NUM_CLASSES if b["class_cond"] else 0, num_heads=int(f["num_heads"]),
            num_head_channels=int(f.get("num_head_channels", -1)), num_heads_upsample=int(f["num_heads_upsample"]),
            use_scale_shift_norm=b["use_scale_shift_norm"], resblock_updown=b["resblock_updown"],
            dropout=float(f["dropout"]), rescale_timesteps=b["rescale_timesteps"], text=text)
    diffusion = _diffusion(f, learned, b)
    config = ModelConfig(role=ROLE_OF_KIND[kind], resolution=size, diffusion=diffusion, low_res=low,
                         architecture=architecture, openai=net)
    return ImportSpec(config, b["use_new_attention_order"])


def _diffusion(f: dict[str, Any], learned: bool, b: dict[str, bool]) -> DiffusionConfig:
    schedule = _SCHEDULES.get(str(f["noise_schedule"]))
    if schedule is None:
        raise ValueError(f"flag noise_schedule {f['noise_schedule']!r} is not one of {sorted(_SCHEDULES)}")
    variance = (VarianceType.LEARNED_RANGE if learned
                else VarianceType.POSTERIOR if b.get("sigma_small") else VarianceType.BETA)
    return DiffusionConfig(schedule=schedule, timesteps=int(f["diffusion_steps"]),
                           prediction=PredictionType.SAMPLE if b.get("predict_xstart") else PredictionType.EPSILON,
                           variance=variance)


_KWARGS = {"image_size", "in_channels", "model_channels", "out_channels", "num_res_blocks", "attention_resolutions",
           "dropout", "channel_mult", "conv_resample", "dims", "num_classes", "use_checkpoint", "use_fp16",
           "num_heads", "num_head_channels", "num_heads_upsample", "use_scale_shift_norm", "resblock_updown",
           "use_new_attention_order", "pool", "model_class", "small_size", "text_ctx", "xf_width", "xf_layers",
           "xf_heads", "xf_final_ln", "xf_padding", "vocab_size", "diffusion_steps", "noise_schedule", "learn_sigma",
           "sigma_small", "predict_xstart", "rescale_timesteps", "timestep_respacing"}


def _from_kwargs(architecture: Architecture, k: dict[str, Any]) -> ImportSpec:
    unknown = sorted(set(k) - _KWARGS)
    if unknown:
        raise ValueError(f"unknown keyword argument {unknown[0]!r} of the reference model classes")
    if k.get("dims", 2) != 2:
        raise ValueError("only 2-D models (dims=2) are images")
    kind = _CLASSES.get(k.get("model_class", "UNetModel"))
    if kind is None:
        raise ValueError(f"model_class {k['model_class']!r} is not one of {sorted(_CLASSES)}")
    if "image_size" not in k:
        raise ValueError("keyword arguments need image_size")
    size = int(k["image_size"])
    text = None
    if k.get("xf_width"):
        text = GlideTextConfig(text_ctx=int(k.get("text_ctx", 128)), width=int(k["xf_width"]),
                               layers=int(k.get("xf_layers", 16)), heads=int(k.get("xf_heads", 8)),
                               final_ln=_bool(k.get("xf_final_ln", True), "xf_final_ln"),
                               padding=_bool(k.get("xf_padding", True), "xf_padding"),
                               vocab_size=int(k.get("vocab_size", 50257)))
    net = OpenAINetConfig(
        kind=kind, image_size=size, in_channels=int(k.get("in_channels", 3)), model_channels=int(k["model_channels"]),
        out_channels=int(k["out_channels"]), num_res_blocks=int(k["num_res_blocks"]),
        attention_ds=tuple(int(d) for d in _ints(k["attention_resolutions"], "attention_resolutions")),
        channel_mult=_ints(k.get("channel_mult", (1, 2, 4, 8)), "channel_mult"),
        num_classes=int(k.get("num_classes") or 0), num_heads=int(k.get("num_heads", 1)),
        num_head_channels=int(k.get("num_head_channels", -1)), num_heads_upsample=int(k.get("num_heads_upsample", -1)),
        use_scale_shift_norm=_bool(k.get("use_scale_shift_norm", False), "use_scale_shift_norm"),
        resblock_updown=_bool(k.get("resblock_updown", False), "resblock_updown"),
        conv_resample=_bool(k.get("conv_resample", True), "conv_resample"), dropout=float(k.get("dropout", 0.0)),
        pool=Pooling(k.get("pool", "adaptive")) if kind is NetKind.CLASSIFIER else Pooling.ATTENTION,
        rescale_timesteps=_bool(k.get("rescale_timesteps", architecture is Architecture.IDDPM), "rescale_timesteps"),
        text=text)
    learned = kind is not NetKind.CLASSIFIER and net.out_channels == 2 * net.in_channels
    f = DEFAULTS[architecture] | {n: k[n] for n in ("diffusion_steps", "noise_schedule") if n in k}
    b = {n: _bool(k[n], n) for n in ("sigma_small", "predict_xstart") if n in k}
    role = ROLE_OF_KIND[kind]
    low = int(k.get("small_size", size // 4)) if role is Role.SR else None
    config = ModelConfig(role=role, resolution=size, diffusion=_diffusion(f, learned, b), low_res=low,
                         architecture=architecture, openai=net)
    return ImportSpec(config, _bool(k.get("use_new_attention_order", False), "use_new_attention_order"))
