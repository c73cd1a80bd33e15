"""`--recipe-from` means what it says: the job kind, the settings, explicit flags over them, and a note
when the model or the inputs are not the ones the recipe was made with."""

import json
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from studio.core.settings import JobKind, Recipe
from studio.images.files import save_png
from studio.images.metadata import png_chunks, read_recipe


def studio(*args):
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_a_strokes_recipe_reruns_as_strokes_to_image_with_the_same_pixels(tiny_cascade, tmp_path):
    painting = tmp_path / "painting.png"
    Image.new("RGB", (16, 16), (200, 40, 40)).save(painting)
    first = studio("sdedit", "--model", tiny_cascade, "--image", painting, "--strength", "0.7", "--prompt",
                   "red apple", "--steps", "5", "--sr-steps", "2", "--seed", "3", "--out", tmp_path / "a.png")
    assert first.returncode == 0, first.stderr
    again = studio("sdedit", "--model", tiny_cascade, "--image", painting, "--recipe-from", tmp_path / "a.png",
                   "--out", tmp_path / "b.png")
    assert again.returncode == 0 and "note" not in again.stderr, again.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert read_recipe(tmp_path / "b.png").kind is JobKind.STROKES_TO_IMAGE


def test_a_recipe_of_another_kind_is_refused_naming_the_command_that_runs_it(tiny_cascade, tmp_path):
    painting = tmp_path / "painting.png"
    Image.new("RGB", (16, 16), "blue").save(painting)
    studio("sdedit", "--model", tiny_cascade, "--image", painting, "--steps", "2", "--sr-steps", "1",
           "--out", tmp_path / "s.png")
    result = studio("generate", "--model", tiny_cascade, "--recipe-from", tmp_path / "s.png",
                    "--out", tmp_path / "g.png")
    assert result.returncode == 2 and not (tmp_path / "g.png").exists()
    assert f"is a strokes-to-image recipe; run `studio sdedit --recipe-from {tmp_path / 's.png'} --image PAINTING`" \
        in result.stderr


def test_flags_given_next_to_the_recipe_override_it_and_the_rest_comes_from_it(tiny_cascade, tmp_path):
    studio("generate", "--model", tiny_cascade, "--prompt", "green star", "--steps", "4", "--sr-steps", "2",
           "--guidance", "5.5", "--seed", "1", "--out", tmp_path / "a.png")
    result = studio("generate", "--model", tiny_cascade, "--recipe-from", tmp_path / "a.png", "--seed", "9",
                    "--out", tmp_path / "b.png")
    assert result.returncode == 0, result.stderr
    s = read_recipe(tmp_path / "b.png").settings
    assert (s.prompt, s.steps, s.sr_steps, s.guidance_scale, s.seed) == ("green star", 4, 2, 5.5, 9)


def test_a_different_model_file_is_noted_on_stderr(tiny_cascade, tmp_path):
    studio("generate", "--model", tiny_cascade, "--steps", "2", "--sr-steps", "1", "--out", tmp_path / "a.png")
    other = tmp_path / "other"
    shutil.copytree(tiny_cascade, other)
    (other / "cascade.json").write_text(json.dumps({"name": "tiny", "base": "base.safetensors",
                                                    "sr": "sr.safetensors"}))  # the classifier left out
    result = studio("generate", "--model", other, "--recipe-from", tmp_path / "a.png", "--out", tmp_path / "b.png")
    assert result.returncode == 0
    assert "studio: note: the model's files differ from the recipe's" in result.stderr


def test_the_model_digest_covers_every_file_of_the_cascade(tiny_cascade, tmp_path):
    full = studio("generate", "--model", tiny_cascade, "--steps", "1", "--no-cascade", "--out", tmp_path / "a.png")
    base_only = studio("generate", "--model", tiny_cascade / "base.safetensors", "--steps", "1", "--out",
                       tmp_path / "b.png")
    assert full.returncode == 0 and base_only.returncode == 0
    a, b = read_recipe(tmp_path / "a.png"), read_recipe(tmp_path / "b.png")
    assert a.model_hash != b.model_hash and len(a.model_hash) == 64


def test_a_fork_recipe_is_refused_because_the_png_does_not_hold_its_starting_point(tiny_cascade, tmp_path):
    studio("generate", "--model", tiny_cascade, "--steps", "2", "--sr-steps", "1", "--out", tmp_path / "a.png")
    recipe = read_recipe(tmp_path / "a.png")
    forked = Recipe(**{**recipe.__dict__, "fork": ("base", 17)})
    with Image.open(tmp_path / "a.png") as image:
        save_png(tmp_path / "f.png", np.asarray(image), png_chunks(forked))
    result = studio("generate", "--model", tiny_cascade, "--recipe-from", tmp_path / "f.png",
                    "--out", tmp_path / "g.png")
    assert result.returncode == 2 and "forked from base step 17 of another run" in result.stderr
