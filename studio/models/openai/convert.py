"""A checkpoint's tensors → ours: GLIDE's text weights moved under `text.`, attention weights re-ordered
to [Q | K | V], every name and shape checked against the network the config builds.

Which attention order a file uses cannot be seen in its keys (both are [3C, C, 1]); the spec says it.
ADM files trained with `--use_new_attention_order` keep [Q | K | V]; every other file — improved-diffusion,
the other ADM files, GLIDE's U-Net, its text transformer and its `encoder_kv` — keeps each head's
[q k v] (or [k v]) together, which `_blocks_from_heads` turns into ours.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from studio.core.enums import NetKind
from studio.models.config import ModelConfig
from studio.models.openai.blocks import AttentionBlock
from studio.models.openai.flags import ImportSpec
from studio.models.openai.text import _SelfAttention
from studio.models.openai.unet import OpenAIClassifier, OpenAIUNet

TEXT_KEYS = ("transformer.", "final_ln.", "token_embedding.", "positional_embedding", "padding_embedding",
             "transformer_proj.")


def build_network(config: ModelConfig) -> nn.Module:
    net = config.openai
    return OpenAIClassifier(net) if net.kind is NetKind.CLASSIFIER else OpenAIUNet(net)


def ours(name: str) -> str:
    return "text." + name if name.startswith(TEXT_KEYS) else name


def theirs(name: str) -> str:
    return name.removeprefix("text.")


def reference_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The checkpoint's names and shapes for a config (built on the meta device: no memory)."""
    with torch.device("meta"):
        module = build_network(config)
    return {theirs(k): tuple(v.shape) for k, v in module.state_dict().items()}


def check_shapes(config: ModelConfig, tensors: Mapping[str, torch.Tensor]) -> None:
    """ValueError naming the first missing, unexpected or mis-shaped tensor."""
    expected = reference_shapes(config)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        raise ValueError(f"the checkpoint lacks {missing[0]!r}" + _more(missing) + " for this configuration")
    if unexpected:
        raise ValueError(f"the checkpoint has {unexpected[0]!r}" + _more(unexpected) + ", which this "
                         "configuration does not")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise ValueError(f"tensor {name!r} has shape {tuple(tensors[name].shape)}, this configuration "
                             f"expects {shape}")


def convert(spec: ImportSpec, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors under our names, in our attention order (ValueError if they do not fit)."""
    check_shapes(spec.config, tensors)
    out = {ours(k): v for k, v in tensors.items()}
    with torch.device("meta"):
        module = build_network(spec.config)
    for name, layer in module.named_modules():
        if isinstance(layer, AttentionBlock):
            if not spec.new_attention_order:
                _reorder(out, f"{name}.qkv", layer.heads, 3)
            if layer.encoder_kv is not None:
                _reorder(out, f"{name}.encoder_kv", layer.heads, 2)
        elif isinstance(layer, _SelfAttention):
            _reorder(out, f"{name}.c_qkv", layer.heads, 3)
    return out


def _reorder(tensors: dict[str, torch.Tensor], prefix: str, heads: int, parts: int) -> None:
    for suffix in (".weight", ".bias"):
        tensors[prefix + suffix] = _blocks_from_heads(tensors[prefix + suffix], heads, parts)


def _blocks_from_heads(t: torch.Tensor, heads: int, parts: int) -> torch.Tensor:
    """Rows [h0: q k v | h1: q k v | …] → [Q: h0 h1 … | K: … | V: …] (the first axis, any trailing axes)."""
    rest = t.shape[1:]
    return t.reshape(heads, parts, -1, *rest).transpose(0, 1).reshape(t.shape).contiguous()


def _more(names: list[str]) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""
