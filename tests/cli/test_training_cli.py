"""`studio data`, `studio train` and `studio eval` from the command line (in-process)."""

import numpy as np

from studio.cli import main
from studio.train.datasets import save_dataset


def test_eval_reports_accuracy_ratio_and_frechet_distance_on_a_tiny_set(tiny_cascade, tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = save_dataset(tmp_path / "d.npz", rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8),
                        ["red apple", "red apple", "blue cat", "blue cat", "star", "heart"],
                        labels={"subgroup": ["a", "a", "b", "b", "c", "c"]})
    code = main(["eval", "--model", str(tiny_cascade / "base.safetensors"), "--classifier",
                 str(tiny_cascade / "classifier.safetensors"), "--data", str(data), "--per-class", "2",
                 "--steps", "3"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "real" in out.out and "(6 images)" in out.out and "(6 images), ratio" in out.out
    assert "Fréchet distance" in out.out and "over 3 classes" in out.out
    assert "generated accuracy by class: a " in out.out and ", b " in out.out and ", c " in out.out
    assert "caption gap at t = 900: x̂₀ error " in out.out  # the tiny base is text-conditioned


def test_train_stops_with_a_checkpoint_and_the_same_command_resumes(tmp_path, capsys):
    rng = np.random.default_rng(1)
    data = save_dataset(tmp_path / "d.npz", rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8),
                        ["red", "blue", "red", "blue"])
    args = ["train", "--role", "base", "--data", str(data), "--recipe", "tiny-base", "--steps", "4",
            "--out", str(tmp_path / "m.safetensors")]
    assert main([*args, "--max-minutes", "0"]) == 0
    assert "run the same command to resume" in capsys.readouterr().err
    assert main(args) == 0
    assert "trained 4 steps" in capsys.readouterr().err and (tmp_path / "m.safetensors").is_file()


def test_a_recipe_for_another_role_is_refused(tmp_path, capsys):
    assert main(["train", "--role", "sr", "--data", str(tmp_path), "--recipe", "tiny-base",
                 "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "trains a base model, not sr" in capsys.readouterr().err


def test_half_rewrites_the_finished_model_in_float16(tmp_path, capsys):
    from safetensors import safe_open

    rng = np.random.default_rng(2)
    data = save_dataset(tmp_path / "d.npz", rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8), ["a"] * 4)
    out = tmp_path / "m.safetensors"
    assert main(["train", "--role", "base", "--data", str(data), "--recipe", "tiny-base", "--steps", "2",
                 "--half", "--out", str(out)]) == 0, capsys.readouterr().err
    with safe_open(str(out), framework="pt") as f:
        assert {str(f.get_slice(k).get_dtype()) for k in f.keys()} == {"F16"}
        assert f.metadata()["studio.dtype"] == "float16"


def test_an_output_folder_that_cannot_be_written_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "blocker").write_text("")
    assert main(["train", "--role", "base", "--data", str(tmp_path / "missing.npz"), "--recipe", "tiny-base",
                 "--out", str(tmp_path / "blocker" / "m.safetensors")]) == 2
    assert capsys.readouterr().err == f"studio: error: {tmp_path / 'blocker'}: cannot write here (Not a directory)\n"


def test_init_fine_tunes_a_model_file_and_its_card_says_so(tmp_path, capsys):
    from studio.models.files import read_model_info

    rng = np.random.default_rng(3)
    data = save_dataset(tmp_path / "d.npz", rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8), ["a b"] * 4)
    base = ["train", "--role", "base", "--data", str(data), "--recipe", "tiny-base", "--steps", "2"]
    assert main([*base, "--out", str(tmp_path / "first.safetensors")]) == 0
    tuned = tmp_path / "tuned.safetensors"
    assert main([*base, "--init", str(tmp_path / "first.safetensors"), "--out", str(tuned)]) == 0
    card = read_model_info(tuned).card
    assert "Then fine-tuned from first.safetensors (sha256 " in card.training and "2 steps of batch 8" in card.training
    capsys.readouterr()


def test_an_init_file_that_is_not_a_model_is_refused_in_one_line(tmp_path, capsys):
    rng = np.random.default_rng(4)
    data = save_dataset(tmp_path / "d.npz", rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8), ["a"] * 4)
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    assert main(["train", "--role", "base", "--data", str(data), "--recipe", "tiny-base", "--init",
                 str(tmp_path / "junk.safetensors"), "--out", str(tmp_path / "m.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"studio: error: {tmp_path / 'junk.safetensors'}") and err.count("\n") == 1, err
    assert not (tmp_path / "m.safetensors").exists()
