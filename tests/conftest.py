"""Shared test set-up: no screen, no network, deterministic torch."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))
