"""The shipped cascades: the GPU-trained default and the CPU-trained starter beside it. Each is there,
passes every model-file check and says on its cards what it was trained on; the default generates the
same pixels twice without being asked for by name."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from studio.core.enums import Role
from studio.core.paths import default_model_path
from studio.models.cascade import resolve_model_path
from studio.models.files import read_model_info

MIB = 2**20
SHIPPED = {"default": default_model_path(), "cpu-starter": default_model_path().parent / "cpu-starter"}
# issue budgets: the CPU starter ≤ 15 MB; every file ≤ 16 MiB; both cascades together ≤ 40 MB
BUDGETS = {"default": 40 * 10**6 - 15 * 10**6, "cpu-starter": 15 * 10**6}
SR_SIZES = {"default": (32, 128), "cpu-starter": (16, 64)}


def infos_of(folder):
    cascade = resolve_model_path(folder)
    return {role: read_model_info(path) for role, path in
            (("base", cascade.base), ("sr", cascade.sr), ("classifier", cascade.classifier))}


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_cascade_is_whole_within_budget_and_passes_the_model_file_checks(name):
    folder = SHIPPED[name]
    infos = infos_of(folder)
    assert {role: info.config.role for role, info in infos.items()} == {
        "base": Role.BASE, "sr": Role.SR, "classifier": Role.CLASSIFIER}
    assert (infos["sr"].config.low_res, infos["sr"].config.resolution) == SR_SIZES[name]
    assert infos["sr"].config.low_res == infos["base"].config.resolution == infos["classifier"].config.resolution
    assert all(info.dtype == "float16" for info in infos.values())
    assert all(p.stat().st_size <= 16 * MIB for p in folder.iterdir())
    assert sum(p.stat().st_size for p in folder.iterdir()) <= BUDGETS[name]
    assert json.loads((folder / "cascade.json").read_text())["base"] == "base.safetensors"


@pytest.mark.parametrize("name", SHIPPED)
def test_the_cards_say_what_was_trained_on_what_and_under_which_licences(name):
    for info in infos_of(SHIPPED[name]).values():
        card = info.card
        assert "SIL Open Font License 1.1" in card.licence and "Unicode License" in card.licence
        assert "Noto Color Emoji" in card.training_data and "emoji-test.txt" in card.training_data
        assert " min on " in card.training and "steps of batch" in card.training  # how long, on what machine


def test_the_default_cards_name_the_gpu_and_the_images_seen():
    for info in infos_of(SHIPPED["default"]).values():
        assert "(CUDA)" in info.card.training and "images seen" in info.card.training


def test_a_default_generate_gives_the_same_pixels_twice(tmp_path):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        run = subprocess.run([sys.executable, "-m", "studio", "generate", "--prompt", "red apple", "--seed", "1",
                              "--out", str(out)], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
    with Image.open(outs[0]) as a, Image.open(outs[1]) as b:
        assert a.size == (128, 128) and a.tobytes() == b.tobytes()
