"""The shipped default cascade: it is there, it passes every model-file check, and it generates
the same pixels twice without being asked for by name."""

import json
import subprocess
import sys

from PIL import Image

from studio.core.enums import Role
from studio.core.paths import default_model_path
from studio.models.cascade import resolve_model_path
from studio.models.files import read_model_info

BUDGET_BYTES = 15 * 10**6


def test_the_default_cascade_ships_whole_and_passes_the_model_file_checks():
    folder = default_model_path()
    description = json.loads((folder / "cascade.json").read_text())
    cascade = resolve_model_path(folder)
    infos = {role: read_model_info(path) for role, path in
             (("base", cascade.base), ("sr", cascade.sr), ("classifier", cascade.classifier))}
    assert {role: info.config.role for role, info in infos.items()} == {
        "base": Role.BASE, "sr": Role.SR, "classifier": Role.CLASSIFIER}
    assert infos["sr"].config.low_res == infos["base"].config.resolution and infos["sr"].config.resolution >= 64
    assert infos["classifier"].config.resolution == infos["base"].config.resolution
    assert all(info.dtype == "float16" for info in infos.values())
    assert sum(p.stat().st_size for p in folder.iterdir()) <= BUDGET_BYTES
    assert description["base"] == "base.safetensors"


def test_the_cards_say_what_was_trained_on_what_and_under_which_licences():
    cascade = resolve_model_path(default_model_path())
    for path in (cascade.base, cascade.sr, cascade.classifier):
        card = read_model_info(path).card
        assert "SIL Open Font License 1.1" in card.licence and "Unicode License" in card.licence
        assert "Noto Color Emoji" in card.training_data and "emoji-test.txt" in card.training_data
        assert " min on " in card.training and "steps of batch" in card.training  # how long, on what machine


def test_a_default_generate_gives_the_same_pixels_twice(tmp_path):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        run = subprocess.run([sys.executable, "-m", "studio", "generate", "--prompt", "red apple", "--seed", "1",
                              "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    with Image.open(outs[0]) as a, Image.open(outs[1]) as b:
        assert a.size == (64, 64) and a.tobytes() == b.tobytes()
