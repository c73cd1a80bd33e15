"""`studio import` and `studio forward`: OpenAI checkpoints into studio model files, and one raw forward
of such a model for parity checks against the reference code."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from studio.core.atomic import atomic_target
from studio.core.enums import Architecture, NetKind
from studio.core.paths import resources_folder
from studio.models.cascade import DESCRIPTION, read_cascade
from studio.models.config import OPENAI_ARCHITECTURES, ModelCard
from studio.models.files import ModelFileError, build_module, load_model, save_model
from studio.models.openai.convert import convert
from studio.models.openai.flags import ImportSpec, spec_from_flags
from studio.models.openai.presets import LICENCES, PRESETS, SOURCES, Preset, presets_of
from studio.models.openai.recognise import recognise
from studio.models.pt_files import read_pt_state_dict

FAMILY_NAMES = tuple(a.value for a in (Architecture.GLIDE, Architecture.ADM, Architecture.IDDPM))
Progress = Callable[[str, float], None]  # (what is happening, fraction done)


@dataclass(frozen=True)
class ImportResult:
    path: Path
    preset: str | None  # None: from --flags
    parameters: int
    dtype: str


def preset_names(family: str) -> list[str]:
    return [p.name for p in presets_of(Architecture(family))]


def import_checkpoint(family: str, source: str | Path, out: str | Path, *, preset: str | None = None,
                      flags: str | Path | None = None, overwrite: bool = False,
                      progress: Progress | None = None) -> ImportResult:
    """Read `source` (.pt) safely, configure it from `preset`, `flags` (a JSON file) or its key shapes,
    and write our model file `out`. ValueError / ModelFileError carry one line."""
    report = progress or (lambda what, fraction: None)
    architecture = _family(family)
    out = Path(out)
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists (pass --overwrite to replace it)")
    chosen = _preset(architecture, preset) if preset else None
    spec = spec_from_flags(architecture, _read_flags(Path(flags))) if flags else None
    report("reading the checkpoint", 0.0)
    tensors = read_pt_state_dict(source)
    report("converting", 0.5)
    if spec is None:
        chosen = chosen or recognise(architecture, tensors)
        spec = spec_from_flags(architecture, chosen.flags)
    spec = _with_tokenizer(spec)
    if chosen is not None:
        spec = replace(spec, config=replace(spec.config, openai=replace(spec.config.openai, preset=chosen.name)))
    try:
        converted = convert(spec, tensors)
    except ValueError as exc:
        raise ModelFileError(source, str(exc)) from None
    with torch.device("meta"):
        module = build_module(spec.config)
    module.load_state_dict(converted, assign=True)
    dtype = torch.float16 if all(t.dtype == torch.float16 for t in tensors.values()) else torch.float32
    report("writing the model file", 0.8)
    save_model(out, module, spec.config, _card(architecture, Path(source), chosen, spec), dtype=dtype)
    report("done", 1.0)
    return ImportResult(out, chosen.name if chosen else None, sum(t.numel() for t in converted.values()),
                        str(dtype).removeprefix("torch."))


def gpt2_merges() -> tuple[str, ...]:
    """GPT-2's BPE merges, shipped in resources/tokenizers (MIT, from glide-text2im)."""
    path = resources_folder() / "tokenizers" / "gpt2-vocab.bpe.gz"
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    return tuple(line for line in lines[1:] if line)  # the first line is "#version: 0.2"


def _with_tokenizer(spec: ImportSpec) -> ImportSpec:
    """A GLIDE text model with GPT-2's vocabulary stored in its config (so in the model file), when its
    embedding has GPT-2's size; another size keeps its own (a test's tiny vocabulary, say)."""
    text = spec.config.openai.text
    if text is None or text.merges or text.vocab_size != 50257:
        return spec
    openai = replace(spec.config.openai, text=replace(text, merges=gpt2_merges()))
    return replace(spec, config=replace(spec.config, openai=openai))


def _family(family: str) -> Architecture:
    try:
        architecture = Architecture(family)
    except ValueError:
        architecture = None
    if architecture not in OPENAI_ARCHITECTURES:
        raise ValueError(f"unknown family {family!r}: choose one of {', '.join(FAMILY_NAMES)}")
    return architecture


def _preset(architecture: Architecture, name: str) -> Preset:
    preset = PRESETS.get(name)
    if preset is None or preset.architecture is not architecture:
        raise ValueError(f"no {architecture.value} preset {name!r}; the presets are "
                         f"{', '.join(preset_names(architecture.value))}")
    return preset


def _read_flags(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: is not JSON ({exc})") from None


def _card(architecture: Architecture, source: Path, preset: Preset | None, spec: ImportSpec) -> ModelCard:
    order = "[Q|K|V]" if spec.new_attention_order else "per-head [q k v]"
    if preset is None:
        name, description, url = source.stem, f"imported from {source.name} with the given flags", ""
    else:
        s = preset.sampling
        name, url = preset.name, preset.url
        sampler = "DDIM (η 0)" if s.use_ddim else "DDPM"
        description = (f"{preset.description}. The authors sample it with {sampler}, respacing {s.respacing!r}"
                       + (f", guidance {s.guidance_scale:g}" if s.guidance_scale else "")
                       + (f", classifier {s.classifier} at scale {s.classifier_scale:g}" if s.classifier else "")
                       + (f", upsampler temperature {s.temperature:g}" if s.temperature != 1.0 else "") + ".")
    return ModelCard(
        name=name, description=description,
        training_data=f"see {SOURCES[architecture]}'s README and model card" + (f" ({url})" if url else ""),
        licence=LICENCES[architecture],
        training=f"trained by OpenAI ({SOURCES[architecture]}); imported from {source.name} "
                 f"(attention stored {order} in the checkpoint)")


def write_cascade(out: str | Path, name: str, base: str | Path, sr: str | Path | None = None,
                  classifier: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """A cascade.json beside the model files (paths relative to it), checked by reading it back."""
    out = Path(out)
    if out.is_dir():
        out = out / DESCRIPTION
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists (pass --overwrite to replace it)")
    folder = out.parent.resolve()
    data = {"name": name, "base": _relative(base, folder)}
    data |= {k: _relative(v, folder) for k, v in (("sr", sr), ("classifier", classifier)) if v is not None}
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    try:
        read_cascade(out)
    except ModelFileError:
        out.unlink()
        raise
    return out


def _relative(path: str | Path, folder: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(folder))
    except ValueError:
        raise ValueError(f"{path}: must lie in the cascade's folder {folder}") from None


_INPUTS = {"in_y": "y", "in_tokens": "tokens", "in_mask": "mask", "in_low_res": "low_res",
           "in_inpaint_image": "inpaint_image", "in_inpaint_mask": "inpaint_mask"}


def forward_npz(model: str | Path, inputs: str | Path, out: str | Path) -> Path:
    """Run the raw network once on CPU in float32, eval mode: `in_x`, `in_timesteps` (what the network
    receives) and the inputs the model needs → `out_model`, or `out_logits` for a classifier."""
    loaded = load_model(model, device="cpu", dtype=torch.float32)
    if loaded.config.openai is None:
        raise ValueError(f"{model}: studio forward runs imported OpenAI networks (adm, iddpm, glide)")
    try:
        data = dict(np.load(inputs, allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{inputs}: cannot read as .npz ({exc})") from None
    for key in ("in_x", "in_timesteps"):
        if key not in data:
            raise ValueError(f"{inputs}: has no {key}")
    unknown = sorted(set(data) - set(_INPUTS) - {"in_x", "in_timesteps"})
    if unknown:
        raise ValueError(f"{inputs}: unknown input {unknown[0]!r} (inputs: in_x, in_timesteps, {', '.join(_INPUTS)})")
    x = torch.from_numpy(data["in_x"]).float()
    t = torch.from_numpy(data["in_timesteps"])
    kwargs = {_INPUTS[k]: _tensor(k, v) for k, v in data.items() if k in _INPUTS}
    classifier = loaded.config.openai.kind is NetKind.CLASSIFIER
    try:
        with torch.inference_mode():
            result = loaded.module(x, t) if classifier else loaded.module(x, t, **kwargs)
    except RuntimeError as exc:  # shapes that do not fit the network
        raise ValueError(f"{inputs}: the inputs do not fit this network ({' '.join(str(exc).split())[:200]})") from None
    with atomic_target(Path(out)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **{"out_logits" if classifier else "out_model": result.numpy()})
    return Path(out)


def _tensor(key: str, value: np.ndarray) -> torch.Tensor:
    tensor = torch.from_numpy(value)
    if key in ("in_y", "in_tokens"):
        return tensor.long()
    if key == "in_mask":
        return tensor.bool()
    return tensor.float()
