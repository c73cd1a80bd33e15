"""Which public file a checkpoint is, from its tensor names and shapes alone."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from studio.core.enums import Architecture
from studio.models.openai.convert import reference_shapes
from studio.models.openai.flags import spec_from_flags
from studio.models.openai.presets import Preset, presets_of


def matching_presets(architecture: Architecture, tensors: Mapping[str, torch.Tensor]) -> list[Preset]:
    """Every preset of the family whose network has exactly these names and shapes. Files that differ only
    in training (ADM's LSUN files, the L_hybrid and L_vlb twins) or in the attention order match together."""
    shapes = {k: tuple(v.shape) for k, v in tensors.items()}
    return [p for p in presets_of(architecture)
            if reference_shapes(spec_from_flags(architecture, p.flags).config) == shapes]


def recognise(architecture: Architecture, tensors: Mapping[str, torch.Tensor]) -> Preset:
    """The one preset these tensors fit; ValueError saying what to pass when none or several do."""
    found = matching_presets(architecture, tensors)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(f"the tensors match no {architecture.value} preset; pass --flags with the "
                         "reference's settings for this file")
    # e.g. ADM's 256 unconditional and LSUN files: the same network, but which data it learned (the card)
    # and the authors' sampling settings are not in the tensors
    names = ", ".join(p.name for p in found)
    raise ValueError(f"the tensors fit several presets ({names}); pass --preset with the file's own")
