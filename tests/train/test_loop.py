"""Training: a tiny model overfits a handful of images, and a resumed run equals an uninterrupted one."""

import numpy as np
import torch
from safetensors.torch import load_file

from studio.core.enums import Role
from studio.models.config import ModelCard
from studio.models.files import load_model
from studio.train.datasets import ImageDataset
from studio.train.loop import train
from studio.train.recipes import BUILTIN


def shapes_dataset(n: int = 8, size: int = 16) -> ImageDataset:
    """n flat-coloured squares and discs on white, captioned by colour and shape."""
    colours = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (240, 200, 20)}
    images, captions, kinds = [], [], []
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        name, rgb = list(colours.items())[i % 4]
        shape = "disc" if i % 2 else "square"
        inside = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2) if shape == "disc" \
            else ((abs(yy - size / 2) < size / 3) & (abs(xx - size / 2) < size / 3))
        img = np.full((size, size, 3), 255, np.uint8)
        img[inside] = rgb
        images.append(img)
        captions.append(f"{name} {shape}")
        kinds.append(shape)
    return ImageDataset(np.stack(images), tuple(captions), {"subgroup": tuple(kinds)})


def test_a_tiny_model_overfits_eight_images_within_300_steps(tmp_path):
    """Mean loss of the last 50 steps is at least five times below that of the first 50."""
    outcome = train(BUILTIN["tiny-base"], shapes_dataset(), tmp_path / "m.safetensors", card=ModelCard(name="t"))
    assert outcome.finished and outcome.steps_done == 300
    assert outcome.losses[0] > 5 * outcome.losses[-1], outcome.losses
    model = load_model(tmp_path / "m.safetensors")
    assert model.config.role is Role.BASE and "300 steps" in model.card.training
    assert "square" in model.config.text.vocab


def test_a_resumed_run_ends_with_exactly_the_weights_of_an_uninterrupted_one(tmp_path):
    recipe = BUILTIN["tiny-base"].with_(steps=12, checkpoint_every=4, log_every=4)
    data = shapes_dataset()
    whole = train(recipe, data, tmp_path / "a" / "m.safetensors", card=ModelCard())
    first = train(recipe, data, tmp_path / "b" / "m.safetensors", card=ModelCard(), stop_at=6)
    assert not first.finished and first.steps_done == 6 and not (tmp_path / "b" / "m.safetensors").exists()
    rest = train(recipe, data, tmp_path / "b" / "m.safetensors", card=ModelCard())
    assert rest.finished and rest.losses[-1] == whole.losses[-1]  # the last logging window, steps 8–12
    a, b = load_file(str(tmp_path / "a" / "m.safetensors")), load_file(str(tmp_path / "b" / "m.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_checkpoint_of_another_recipe_is_not_resumed(tmp_path):
    recipe = BUILTIN["tiny-base"].with_(steps=4, checkpoint_every=2)
    train(recipe, shapes_dataset(), tmp_path / "m.safetensors", card=ModelCard(), stop_at=2)
    try:
        train(recipe.with_(learning_rate=1e-4), shapes_dataset(), tmp_path / "m.safetensors", card=ModelCard())
    except ValueError as exc:
        assert "different recipe" in str(exc)
    else:
        raise AssertionError("a mismatched checkpoint was resumed")


def test_sr_and_classifier_roles_train_and_write_model_files(tmp_path):
    data = shapes_dataset(8, 32)
    sr = train(BUILTIN["tiny-sr"].with_(steps=6), data, tmp_path / "sr.safetensors", card=ModelCard())
    cls = train(BUILTIN["tiny-classifier"].with_(steps=6), data, tmp_path / "c.safetensors", card=ModelCard())
    assert sr.finished and cls.finished
    assert load_model(tmp_path / "sr.safetensors").config.role is Role.SR
    classifier = load_model(tmp_path / "c.safetensors")
    assert classifier.config.classifier.class_names == ("disc", "square")


def test_sample_grids_are_written_during_training(tmp_path):
    from PIL import Image

    recipe = BUILTIN["tiny-base"].with_(steps=4, sample_every=2, checkpoint_every=4)
    train(recipe, shapes_dataset(), tmp_path / "m.safetensors", card=ModelCard())
    grids = sorted(p.name for p in tmp_path.glob("m-samples-*.png"))
    assert grids == ["m-samples-000002.png", "m-samples-000004.png"]
    with Image.open(tmp_path / grids[0]) as grid:
        assert grid.size == (4 * 16, 16)  # the 4 distinct captions, one 16×16 sample each, 4 to a row
    sr = BUILTIN["tiny-sr"].with_(steps=2, sample_every=2)
    train(sr, shapes_dataset(8, 32), tmp_path / "sr.safetensors", card=ModelCard())
    assert (tmp_path / "sr-samples-000002.png").is_file()


def test_a_time_budgeted_run_ends_finished_and_annealed_when_its_clock_runs_out(tmp_path):
    """The budget, not the step count, ends the run; the cosine schedule has reached its floor."""
    from studio.core.enums import LRSchedule

    recipe = BUILTIN["tiny-base"].with_(steps=1_000_000, budget_minutes=0.02, lr_schedule=LRSchedule.COSINE,
                                        lr_floor=0.1, warmup_steps=1, ema_power=6.94, checkpoint_every=10_000)
    outcome = train(recipe, shapes_dataset(), tmp_path / "m.safetensors", card=ModelCard())
    assert outcome.finished and 1 < outcome.steps_done < 1_000_000
    from studio.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(outcome.checkpoint_path)
    # 0.02 min, plus the last step's time: generous, since a loaded 2-core machine can stall one step for seconds
    assert 1.2 <= ckpt.elapsed <= 1.2 + 30.0
    # the schedule at the state the run ended in is at its floor; the rate the last step used was set just
    # before that step, so on a stalled machine it can lie well above the floor and is not asserted on
    from studio.train.loop import _TrainState

    ended = object.__new__(_TrainState)
    ended.recipe, ended.step, ended.elapsed = recipe, ckpt.step, ckpt.elapsed
    assert abs(ended.learning_rate() - recipe.learning_rate * 0.1) < 1e-12
    assert ckpt.optimizer["param_groups"][0]["lr"] < recipe.learning_rate
    assert "min" in load_model(tmp_path / "m.safetensors").card.training


def test_the_power_ema_averages_a_fixed_share_of_the_run():
    """EDM2's profile: decay (1 − 1/n)^(γ+1) keeps the average's relative width, so step n's weight in the
    average is (γ+1)/n·…; at γ = 0 the EMA is the plain running mean of all steps."""
    from studio.train.loop import _TrainState

    class Fake(_TrainState):
        def __init__(self, power):
            self.recipe = BUILTIN["tiny-base"].with_(ema_power=power)
            self.module = torch.nn.Linear(1, 1, bias=False)
            self.ema = {"weight": torch.zeros(1, 1)}
            self.step = 0

    for power, expected in ((1e-9, 4.5), (6.94, None)):
        fake = Fake(power)
        for n in range(10):  # weights 0, 1, …, 9
            fake.module.weight.data.fill_(float(n))
            fake._update_ema()
            fake.step += 1
        value = float(fake.ema["weight"])
        if expected is not None:
            assert abs(value - expected) < 1e-4
        else:
            assert 7.0 < value < 9.0  # leans to the recent steps


def test_a_finished_run_is_extended_by_asking_for_more_steps(tmp_path):
    recipe = BUILTIN["tiny-base"].with_(steps=4, checkpoint_every=2)
    first = train(recipe, shapes_dataset(), tmp_path / "m.safetensors", card=ModelCard())
    longer = train(recipe.with_(steps=8), shapes_dataset(), tmp_path / "m.safetensors", card=ModelCard())
    assert first.finished and longer.finished and longer.steps_done == 8
    assert "8 steps" in load_model(tmp_path / "m.safetensors").card.training


def test_every_role_trains_in_the_gpu_precision_bf16_autocast_and_channels_last(tmp_path):
    """The GPU path (bf16 autocast, channels-last weights and activations) run on the CPU, where both
    exist too: a layer that views a channels-last tensor or mixes dtypes fails here, not on a lent GPU."""
    from studio.train.loop import _TrainState
    from studio.train.model_setup import to_device

    data = shapes_dataset(8, 32)
    for name in ("tiny-base", "tiny-sr", "tiny-classifier"):
        recipe = BUILTIN[name]
        state = _TrainState.start(recipe, data, tmp_path / f"{name}.ckpt.safetensors", torch.device("cpu"))
        state.accelerated = True
        state.module = state.module.to(memory_format=torch.channels_last)
        on_device = to_device(data, state.config, recipe, torch.device("cpu"))
        losses = [float(state.train_step(on_device)) for _ in range(3)]
        assert all(np.isfinite(losses)) and state.step == 3, (name, losses)
        conv = next(m for m in state.module.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_a_fine_tune_starts_from_the_files_weights_and_keeps_its_vocabulary(tmp_path):
    """One step at a negligible rate leaves the weights where the file had them; the vocabulary is the
    file's, not one rebuilt from the new captions, and the card keeps the weights' history."""
    start = tmp_path / "start.safetensors"
    train(BUILTIN["tiny-base"].with_(steps=20), shapes_dataset(), start, card=ModelCard(training="first run."))
    new_captions = shapes_dataset()
    new_captions = ImageDataset(new_captions.images, ("violet blob",) * 8, new_captions.labels)
    recipe = BUILTIN["tiny-base"].with_(steps=1, learning_rate=1e-12, init_from=str(start))
    tuned = train(recipe, new_captions, tmp_path / "tuned.safetensors", card=ModelCard())
    assert tuned.finished
    a, b = load_model(start), load_model(tmp_path / "tuned.safetensors")
    assert b.config.text.vocab == a.config.text.vocab and "violet" not in b.config.text.vocab
    sa, sb = a.module.state_dict(), b.module.state_dict()
    assert max(float((sa[k] - sb[k]).abs().max()) for k in sa) < 1e-6


def test_a_fine_tune_begins_at_the_loss_its_starting_run_ended_with(tmp_path):
    data = shapes_dataset()
    start = train(BUILTIN["tiny-base"], data, tmp_path / "start.safetensors", card=ModelCard())
    fresh = BUILTIN["tiny-base"].with_(steps=50, log_every=50)
    scratch = train(fresh, data, tmp_path / "scratch.safetensors", card=ModelCard())
    tuned = train(fresh.with_(init_from=str(tmp_path / "start.safetensors")), data,
                  tmp_path / "tuned.safetensors", card=ModelCard())
    # the first 50 steps: a fresh model is still far off; the fine-tune is near where the first run ended
    assert tuned.losses[0] < 2 * start.losses[-1] < scratch.losses[0], (start.losses, scratch.losses, tuned.losses)


def test_a_fine_tune_refuses_a_model_of_another_role_or_other_classes(tmp_path):
    import pytest

    data = shapes_dataset(8, 32)
    classifier = tmp_path / "c.safetensors"
    train(BUILTIN["tiny-classifier"].with_(steps=2), data, classifier, card=ModelCard())
    with pytest.raises(ValueError, match="a classifier model cannot start a base run"):
        train(BUILTIN["tiny-base"].with_(init_from=str(classifier)), data, tmp_path / "b.safetensors",
              card=ModelCard())
    relabelled = ImageDataset(data.images, data.captions, {"subgroup": ("x", "y") * 4})
    with pytest.raises(ValueError, match="its classes are not the data's 'subgroup' labels"):
        train(BUILTIN["tiny-classifier"].with_(init_from=str(classifier)), relabelled,
              tmp_path / "c2.safetensors", card=ModelCard())


def test_a_checkpoint_started_from_another_file_is_not_resumed(tmp_path):
    import pytest

    data = shapes_dataset()
    for name in ("a", "b"):
        train(BUILTIN["tiny-base"].with_(steps=2, seed=ord(name)), data, tmp_path / f"{name}.safetensors",
              card=ModelCard())
    recipe = BUILTIN["tiny-base"].with_(steps=4, checkpoint_every=2)
    out = tmp_path / "tuned.safetensors"
    train(recipe.with_(init_from=str(tmp_path / "a.safetensors")), data, out, card=ModelCard(), stop_at=2)
    with pytest.raises(ValueError, match="different recipe"):
        train(recipe.with_(init_from=str(tmp_path / "b.safetensors")), data, out, card=ModelCard())
