"""No command loses a file: every output path is checked before anything runs or is written."""

import os
import stat
import subprocess
import sys

import pytest
from PIL import Image

from studio.core.atomic import atomic_write


def studio(*args, umask=None):
    def set_mask():
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True,
                          timeout=120, preexec_fn=set_mask)


def fast(model):
    return ["--model", model, "--prompt", "red apple", "--steps", "2", "--sr-steps", "2"]


def one_line_error(result, words):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("studio: error: ") and words in lines[0], lines[0]


@pytest.mark.parametrize("command", ["generate", "sdedit", "inpaint", "upscale"])
def test_an_existing_out_file_is_refused_and_kept_unless_overwrite_is_given(tiny_cascade, tmp_path, command):
    painting = tmp_path / "in.png"
    Image.new("RGB", (16, 16), "red").save(painting)
    Image.new("L", (16, 16), 255).save(tmp_path / "mask.png")
    extra = {"generate": [], "sdedit": ["--image", painting], "upscale": ["--image", painting],
             "inpaint": ["--image", painting, "--mask", tmp_path / "mask.png"]}[command]
    existing = tmp_path / "existing.png"
    existing.write_bytes(b"precious")
    one_line_error(studio(command, *fast(tiny_cascade), *extra, "--out", existing), "already exists")
    assert existing.read_bytes() == b"precious"
    replaced = studio(command, *fast(tiny_cascade), *extra, "--out", existing, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert existing.read_bytes().startswith(b"\x89PNG")


def test_a_model_file_given_as_out_is_never_replaced(tiny_cascade, tmp_path):
    model = tmp_path / "copy.safetensors"
    model.write_bytes((tiny_cascade / "base.safetensors").read_bytes())
    one_line_error(studio("generate", *fast(tiny_cascade), "--out", model), "must end in .png, .jpg")
    assert model.read_bytes() == (tiny_cascade / "base.safetensors").read_bytes()


def test_one_existing_batch_name_stops_the_whole_batch_before_anything_is_written(tiny_cascade, tmp_path):
    (tmp_path / "cats-2.png").write_bytes(b"keep")
    one_line_error(studio("generate", *fast(tiny_cascade), "--batch", "3", "--out", tmp_path / "cats.png"),
                   "cats-2.png: already exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cats-2.png"]


def test_an_existing_step_sequence_is_refused_before_the_image_is_written(tiny_cascade, tmp_path):
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "o-steps.gif").write_bytes(b"keep")
    result = studio("generate", *fast(tiny_cascade), "--out", tmp_path / "o.png", "--save-steps", steps,
                    "--sequence-format", "gif")
    one_line_error(result, "o-steps.gif: already exists")
    assert not (tmp_path / "o.png").exists() and (steps / "o-steps.gif").read_bytes() == b"keep"
    (steps / "base-000-xt.png").write_bytes(b"keep")
    one_line_error(studio("generate", *fast(tiny_cascade), "--out", tmp_path / "o.png", "--save-steps", steps),
                   "already holds step frames")


@pytest.mark.parametrize(("name", "fmt"), [("o.jpg", "JPEG"), ("o.jpeg", "JPEG"), ("o.webp", "WEBP"),
                                           ("o.PNG", "PNG")])
def test_the_out_suffix_chooses_the_format_written(tiny_cascade, tmp_path, name, fmt):
    assert studio("generate", *fast(tiny_cascade), "--out", tmp_path / name).returncode == 0
    with Image.open(tmp_path / name) as image:
        assert image.format == fmt


@pytest.mark.parametrize("name", ["noext", "o.txt", "o.gif"])
def test_an_out_suffix_that_is_not_an_image_format_written_is_refused(tiny_cascade, tmp_path, name):
    one_line_error(studio("generate", *fast(tiny_cascade), "--out", tmp_path / name), "must end in")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_follow_the_users_umask(tiny_cascade, tmp_path, mask, mode):
    out = tmp_path / "o.png"
    result = studio("generate", *fast(tiny_cascade), "--out", out, "--save-steps", tmp_path / "s", umask=mask)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "s").iterdir()} == {mode}


def test_atomic_write_leaves_nothing_behind_when_writing_fails(tmp_path):
    def broken(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "x.bin", broken)
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_input_is_a_one_line_error_with_exit_2(tmp_path, monkeypatch, capsys):
    """As a user without read permission meets it (root reads anything, so the refusal is simulated)."""
    from studio import cli, commands

    model = tmp_path / "secret.safetensors"

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(commands, "describe_models", refuse)
    assert cli.main(["info", str(model)]) == 2
    assert capsys.readouterr().err.strip() == f"studio: error: {model}: cannot read (Permission denied)"


def unreadable(path):
    """`path` with its read permission taken away, or a skip where this user (root) reads it anyway."""
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("this user (root) reads files without read permission")
    return path


def test_a_model_without_read_permission_is_a_one_line_error_with_exit_2(tiny_cascade, tmp_path):
    model = tmp_path / "base.safetensors"
    model.write_bytes((tiny_cascade / "base.safetensors").read_bytes())
    one_line_error(studio("info", unreadable(model)), f"{model}: cannot read (Permission denied)")


def test_an_input_image_without_read_permission_is_a_one_line_error_with_exit_2(tiny_cascade, tmp_path):
    painting = tmp_path / "painting.png"
    Image.new("RGB", (16, 16), "red").save(painting)
    one_line_error(studio("sdedit", *fast(tiny_cascade), "--image", unreadable(painting), "--out", tmp_path / "o.png"),
                   f"{painting}: cannot read (Permission denied)")
    assert not (tmp_path / "o.png").exists()


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_models_checkpoints_and_datasets_are_written_with_the_users_umask(tmp_path, umask_027):
    import numpy as np
    import torch

    from studio.models.presets import tiny_classifier_config
    from studio.train.checkpoint import Checkpoint, save_checkpoint
    from studio.train.datasets import save_dataset
    from tests.conftest import write_model

    model = write_model(tmp_path / "m.safetensors", tiny_classifier_config())
    save_checkpoint(tmp_path / "m.ckpt.safetensors", Checkpoint(3, "{}", "{}", {"w": torch.zeros(2)},
                                                                {"w": torch.ones(2)}, {"param_groups": [], "state": {}},
                                                                (0.5,)))
    data = save_dataset(tmp_path / "d.npz", np.zeros((1, 4, 4, 3), np.uint8), ["x"])
    files = [model, tmp_path / "m.ckpt.safetensors", data]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in files)  # no temporary files left
    assert [stat.S_IMODE(p.stat().st_mode) for p in files] == [0o640, 0o640, 0o640]


def test_a_model_write_that_fails_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    from studio.models import files
    from studio.models.presets import tiny_classifier_config
    from tests.conftest import write_model

    model = write_model(tmp_path / "m.safetensors", tiny_classifier_config())
    before = model.read_bytes()

    def full_disk(tensors, filename, metadata=None):
        open(filename, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_model(model, tiny_classifier_config())
    assert os.listdir(tmp_path) == ["m.safetensors"] and model.read_bytes() == before


def test_a_system_error_naming_no_file_is_a_failure_line_with_exit_1(tmp_path, monkeypatch, capsys):
    from studio import cli, commands

    def broken(path):
        raise OSError("device gone")

    monkeypatch.setattr(commands, "describe_models", broken)
    assert cli.main(["info", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "studio: failed: OSError: device gone\n"
