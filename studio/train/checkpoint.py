"""Training checkpoints as safetensors (no pickle): weights, EMA, optimizer moments and the step.

Randomness in the training loop is drawn from a generator seeded by (recipe seed, step), so the
checkpoint needs no RNG state and a resumed run matches an uninterrupted one exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from studio.core.atomic import atomic_target


@dataclass(frozen=True, eq=False)
class Checkpoint:
    step: int
    recipe_json: str
    config_json: str
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor]
    optimizer: dict  # torch.optim state_dict
    losses: tuple[float, ...]
    elapsed: float = 0.0  # seconds trained so far; time-budgeted recipes schedule against it


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    tensors = {f"model.{k}": v for k, v in ckpt.model.items()}
    tensors |= {f"ema.{k}": v for k, v in ckpt.ema.items()}
    opt_meta = {"param_groups": ckpt.optimizer["param_groups"], "state": {}}
    for index, state in ckpt.optimizer["state"].items():
        opt_meta["state"][str(index)] = []
        for name, value in state.items():
            tensors[f"opt.{index}.{name}"] = value
            opt_meta["state"][str(index)].append(name)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {
        "step": str(ckpt.step),
        "recipe": ckpt.recipe_json,
        "config": ckpt.config_json,
        "optimizer": json.dumps(opt_meta),
        "losses": json.dumps(list(ckpt.losses)),
        "elapsed": repr(float(ckpt.elapsed)),
    }
    with atomic_target(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_checkpoint(path: Path) -> Checkpoint:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    opt_meta = json.loads(meta["optimizer"])
    state = {
        int(index): {name: tensors[f"opt.{index}.{name}"] for name in names}
        for index, names in opt_meta["state"].items()
    }
    return Checkpoint(
        step=int(meta["step"]),
        recipe_json=meta["recipe"],
        config_json=meta["config"],
        model={k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
        ema={k[4:]: v for k, v in tensors.items() if k.startswith("ema.")},
        optimizer={"state": state, "param_groups": opt_meta["param_groups"]},
        losses=tuple(json.loads(meta["losses"])),
        elapsed=float(meta.get("elapsed", "0")),
    )
