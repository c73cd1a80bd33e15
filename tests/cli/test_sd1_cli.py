"""Stable Diffusion 1.x files on the command line: opened directly, described, refused in one line."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from tests.models.sd.tiny import tiny_sd1, write_sd1


def studio(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def sd_file(tmp_path_factory):
    return write_sd1(tmp_path_factory.mktemp("sd") / "my-finetune.safetensors", tiny_sd1(4))


def test_info_describes_an_sd_checkpoint(sd_file):
    result = studio("info", sd_file)
    assert result.returncode == 0, result.stderr
    assert "my-finetune  (base, 128×128, float16)" in result.stdout
    assert "Stable Diffusion 1.x text-to-image model" in result.stdout and '"architecture": "sd1"' in result.stdout


def test_generate_opens_the_file_with_no_conversion_step(sd_file, tmp_path):
    out = tmp_path / "apple.png"
    result = studio("generate", "--model", sd_file, "--prompt", "red apple", "--negative", "blurry", "--steps", "2",
                    "--out", out)
    assert result.returncode == 0, result.stderr
    recipe = json.loads(Image.open(out).text["studio"])
    assert Image.open(out).size == (128, 128) and len(recipe["model_hash"]) == 64


@pytest.mark.parametrize("suffix", [".ckpt", ".pt"])
def test_a_pickled_checkpoint_is_refused_in_one_line_saying_what_to_do(tmp_path, suffix):
    ckpt = tmp_path / f"v1-5-pruned{suffix}"
    ckpt.write_bytes(b"PK\x03\x04 not opened")
    result = studio("info", ckpt)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("studio: error: ") and "never opens one" in line and ".safetensors" in line


def test_an_sd_file_with_a_bad_tensor_is_named_before_loading(tmp_path):
    import torch

    module = tiny_sd1(4)
    bad = write_sd1(tmp_path / "bad.safetensors", module, extra={
        "model.diffusion_model.out.2.weight": torch.zeros(4, 32, 1, 1, dtype=torch.float16)})
    result = studio("info", bad)
    assert result.returncode != 0
    assert ("tensor 'model.diffusion_model.out.2.weight' has shape (4, 32, 1, 1), "
            "expected (4, 32, 3, 3)") in result.stderr
