"""`studio train-all`: the GPU cascade's one-lease script, proven on the CPU by its dry run."""

import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from studio.cli import main
from studio.core.enums import Role
from studio.models.config import ModelCard
from studio.models.files import build_module, load_model
from studio.models.presets import PRESETS, gpu_base_config, gpu_classifier_config, gpu_sr_config
from studio.models.tokenizer import SPECIALS
from studio.train.all_stages import STAGES, TrainAllRequest, _collect, stage_recipes
from studio.train.datasets import save_dataset
from studio.train.loop import train
from studio.train.recipes import BUILTIN
from tests.train.test_loop import shapes_dataset

MIB = 2**20


def emoji_like_dataset(tmp_path, n: int = 24, size: int = 64):
    """Shapes with the emoji set's label kinds (group, subgroup), at a size above the SR stage's."""
    data = shapes_dataset(n, size)
    groups = ["round" if kind == "disc" else "angular" for kind in data.labels["subgroup"]]
    return save_dataset(tmp_path / "shapes.npz", data.images, list(data.captions),
                        {"group": groups, "subgroup": list(data.labels["subgroup"])},
                        source="test shapes", licence="CC0")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """(dataset, output folder) of one `studio train-all --dry-run`, given paths relative to a working
    directory that is not the package's (the stages run in the latter)."""
    tmp_path = tmp_path_factory.mktemp("dry-run")
    data, out = emoji_like_dataset(tmp_path), tmp_path / "out"
    with working_directory(tmp_path):
        code = main(["train-all", "--data", data.name, "--out", "out", "--work", "work", "--dry-run"])
    assert code == 0, (out / "train-all.log").read_text()
    return data, out


@contextmanager
def working_directory(path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def test_the_dry_run_trains_all_three_stages_at_once_and_writes_every_output(dry_run):
    """Exactly the files a GPU lease brings back: three float16 models, cascade.json, three grids, a log."""
    _, out = dry_run
    assert sorted(p.name for p in out.iterdir()) == [
        "base-grid.png", "base.safetensors", "cascade-grid.png", "cascade.json", "classifier.safetensors",
        "sr-grid.png", "sr.safetensors", "train-all.log"]
    for role in Role.BASE, Role.SR, Role.CLASSIFIER:
        model = load_model(out / f"{role.value}.safetensors")
        assert model.config.role is role and "dry run" in model.card.training and "images seen" in model.card.training
        tensors = load_file(str(out / f"{role.value}.safetensors"))
        assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    base, sr = (load_model(out / f"{r}.safetensors").config for r in ("base", "sr"))
    with Image.open(out / "base-grid.png") as grid:
        assert grid.size == (4 * base.resolution, base.resolution)  # 4 distinct captions: one row
    with Image.open(out / "cascade-grid.png") as grid:
        assert grid.size == (4 * sr.resolution, 4 * sr.resolution)  # 16 prompts through base → SR
    log = (out / "train-all.log").read_text()
    assert "classifier accuracy on the 24 real images" in log and "--- sr ---" in log
    assert json.loads((out / "cascade.json").read_text())["sr"] == "sr.safetensors"


def test_a_run_continued_from_a_cascade_starts_each_stage_from_its_model(dry_run, tmp_path):
    data, first = dry_run
    out = tmp_path / "out"
    with working_directory(tmp_path):
        code = main(["train-all", "--data", str(data), "--out", "out", "--work", "work", "--dry-run",
                     "--init", os.path.relpath(first, tmp_path)])
    assert code == 0, (out / "train-all.log").read_text()
    for role in "base", "sr", "classifier":
        before, after = load_model(first / f"{role}.safetensors"), load_model(out / f"{role}.safetensors")
        assert after.config == before.config  # the file's network, not the dry-run preset's
        assert f"Then fine-tuned from {role}.safetensors" in after.card.training
        assert after.card.training.startswith(before.card.training)


def test_a_continued_run_needs_every_stage_in_the_cascade(tmp_path, tiny_cascade):
    (tmp_path / "cascade.json").write_text(json.dumps({"name": "x", "base": str(tiny_cascade / "base.safetensors")}))
    with pytest.raises(ValueError, match="the cascade has no sr or classifier model to continue from"):
        stage_recipes(TrainAllRequest(data=None, out=None, work=None, init=tmp_path))
    recipes = stage_recipes(TrainAllRequest(data=None, out=None, work=None, init=tiny_cascade))
    assert [Path(r.init_from).name for r in recipes] == ["base.safetensors", "sr.safetensors", "classifier.safetensors"]


def test_a_stage_stopped_at_the_deadline_ships_its_last_checkpoints_ema_weights(tmp_path):
    request = TrainAllRequest(data=tmp_path / "unused.npz", out=tmp_path / "out", work=tmp_path / "work")
    request.out.mkdir()
    recipe = BUILTIN["tiny-base"].with_(steps=10, checkpoint_every=4)
    train(recipe, shapes_dataset(), request.work / "base.safetensors", card=ModelCard(), stop_at=4)
    result = _collect(recipe, request)
    model = load_model(result.model)
    assert result.role is Role.BASE and "stopped at the deadline after 4 steps" in result.how
    assert model.config.role is Role.BASE and "EMA weights" in model.card.training


def test_a_continued_stage_stopped_at_the_deadline_keeps_the_history_of_its_start(tmp_path):
    request = TrainAllRequest(data=tmp_path / "unused.npz", out=tmp_path / "out", work=tmp_path / "work")
    request.out.mkdir()
    start = tmp_path / "start.safetensors"
    train(BUILTIN["tiny-base"].with_(steps=2), shapes_dataset(), start, card=ModelCard(training="first run."))
    recipe = BUILTIN["tiny-base"].with_(steps=10, checkpoint_every=4, init_from=str(start))
    train(recipe, shapes_dataset(), request.work / "base.safetensors", card=ModelCard(), stop_at=4)
    training = load_model(_collect(recipe, request).model).card.training
    assert training.startswith("first run. 2 steps of batch 8") and "Then fine-tuned from start.safetensors" in training
    assert "(sha256 " in training and "): stopped at the deadline after 4 steps of batch 8, " in training


def test_a_stage_that_left_nothing_is_reported_failed_with_its_last_log_line(tmp_path):
    request = TrainAllRequest(data=tmp_path / "d.npz", out=tmp_path / "out", work=tmp_path / "work")
    request.work.mkdir(parents=True)
    (request.work / "sr.log").write_text("step 1\nstudio: error: out of memory\n")
    result = _collect(BUILTIN["gpu-sr"], request)
    assert result.model is None and result.how == "failed: studio: error: out of memory"


def parameters(config) -> int:
    return sum(p.numel() for p in build_module(config).parameters())


def test_the_dry_run_changes_only_the_sizes_and_the_clock_of_the_gpu_recipes():
    request = TrainAllRequest(data=None, out=None, work=None, dry_run=True)
    for name, dry in zip(STAGES, stage_recipes(request), strict=True):
        real = BUILTIN[name]
        assert dry.role is real.role and dry.lr_schedule is real.lr_schedule and dry.ema_power == real.ema_power
        assert dry.model.startswith("dry_") and real.model.startswith("gpu_") and dry.budget_minutes < 1
        small, big = PRESETS[dry.model](), PRESETS[real.model]()
        assert small.diffusion == big.diffusion and parameters(small) < parameters(big) / 3
    real_recipes = stage_recipes(TrainAllRequest(data=None, out=None, work=None))
    longer = stage_recipes(TrainAllRequest(data=None, out=None, work=None, budget_minutes=8.5))
    shares = [r.budget_minutes / b.budget_minutes for r, b in zip(longer, real_recipes, strict=True)]
    assert max(r.budget_minutes for r in longer) == pytest.approx(8.5)
    assert shares == pytest.approx([shares[0]] * 3)  # every stage keeps its share of the time


@pytest.mark.parametrize("make", [gpu_base_config, gpu_sr_config, gpu_classifier_config])
def test_each_gpu_network_fits_a_16_mib_float16_file_with_the_largest_vocabulary(make):
    """Tokenizer.build caps the vocabulary at 4 096 words; the classifier at the emoji set's 9 groups."""
    arg = tuple("abcdefghi") if make is gpu_classifier_config else (*SPECIALS, *(f"w{i}" for i in range(4092)))
    params = sum(p.numel() for p in build_module(make(arg)).parameters())
    assert 2 * params < 16 * MIB - 256 * 1024, params  # room for the header: config, vocabulary, card


def test_the_gpu_sr_stage_turns_the_bases_32_px_into_128_px():
    base, sr, classifier = gpu_base_config(), gpu_sr_config(), gpu_classifier_config()
    assert (base.resolution, sr.low_res, sr.resolution, classifier.resolution) == (32, 32, 128, 32)
