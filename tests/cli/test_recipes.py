"""`--recipe-from` means what it says: the job kind, the settings, explicit flags over them, and a note
when the model or the inputs are not the ones the recipe was made with."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from studio import cli
from studio.core.enums import SamplerKind
from studio.core.settings import JobKind, Recipe, Settings
from studio.images.files import save_png
from studio.images.metadata import png_chunks, read_recipe


def studio(*args):
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def recipe_png(path, kind=JobKind.TEXT_TO_IMAGE, fork=None, **settings):
    """A studio PNG holding a recipe, written without running a model."""
    recipe = Recipe(kind, "tiny", "0" * 64, Settings(**settings), 16, 16, fork=fork)
    save_png(path, np.zeros((16, 16, 3), np.uint8), png_chunks(recipe))
    return path


def parsed(*argv):
    """What the command runs with: the parsed flags, the recipe attached, the settings made."""
    args = cli.build_parser().parse_args([str(a) for a in argv])
    cli.attach_recipe(args)
    return cli.settings_from_args(args)


def refusal(*argv):
    with pytest.raises(cli.CliError) as caught:
        parsed(*argv)
    return str(caught.value)


def test_without_a_recipe_the_settings_are_the_flags_over_the_model_s_own_defaults():
    # the shipped cascade samples with η = 1 (DiffusionConfig.sample_eta): the settings it opens with
    own = Settings(eta=1.0)
    assert parsed("generate", "--prompt", "cat", "--guidance", "7") == own.with_(prompt="cat", guidance_scale=7.0)
    assert parsed("generate", "--no-cascade", "--sampler", "ddpm") == own.with_(cascade=False,
                                                                                 sampler=SamplerKind.DDPM)
    assert parsed("generate", "--eta", "0").eta == 0.0  # a typed flag wins


def test_the_recipe_gives_every_setting_the_flags_do_not(tmp_path):
    png = recipe_png(tmp_path / "r.png", prompt="green star", steps=4, guidance_scale=5.5, seed=1, cascade=False)
    assert parsed("generate", "--recipe-from", png) == Settings(prompt="green star", steps=4, guidance_scale=5.5,
                                                                seed=1, cascade=False)


def test_a_flag_typed_next_to_the_recipe_wins_even_when_it_equals_the_default(tmp_path):
    png = recipe_png(tmp_path / "r.png", prompt="green star", steps=4, guidance_scale=5.5, eta=0.5)
    s = parsed("generate", "--recipe-from", png, "--steps", "30", "--guid", "3", "--eta=0", "--seed", "9")
    assert (s.prompt, s.steps, s.guidance_scale, s.eta, s.seed) == ("green star", 30, 3.0, 0.0, 9)


def test_strength_and_repaint_flags_override_the_recipes_of_their_kinds(tmp_path):
    strokes = recipe_png(tmp_path / "s.png", JobKind.STROKES_TO_IMAGE, strength=0.3)
    assert parsed("sdedit", "--image", "p.png", "--recipe-from", strokes, "--strength", "0.9").strength == 0.9
    assert parsed("sdedit", "--image", "p.png", "--recipe-from", strokes).strength == 0.3
    inpaint = recipe_png(tmp_path / "i.png", JobKind.INPAINT, repaint_jump=5, repaint_resample=3)
    s = parsed("inpaint", "--image", "i.png", "--mask", "m.png", "--recipe-from", inpaint, "--resample", "2")
    assert (s.repaint_jump, s.repaint_resample) == (5, 2)


@pytest.mark.parametrize(("kind", "command", "needs"), [
    (JobKind.STROKES_TO_IMAGE, ["generate"], "sdedit --image PAINTING"),
    (JobKind.INPAINT, ["generate"], "inpaint --image IMAGE --mask MASK"),
    (JobKind.UPSCALE, ["sdedit", "--image", "p.png"], "upscale --image IMAGE"),
    (JobKind.TEXT_TO_IMAGE, ["upscale", "--image", "p.png"], "generate"),
    (JobKind.INPAINT, ["batch", "--out", "o", "--prompts", "p.txt"], "inpaint --image IMAGE --mask MASK"),
])
def test_a_recipe_runs_only_as_its_own_kind_and_the_refusal_names_the_command_and_flags(tmp_path, kind, command,
                                                                                         needs):
    png = recipe_png(tmp_path / "r.png", kind)
    assert refusal(*command, "--recipe-from", png) == \
        f"{png}: is a {kind.value} recipe; run `studio {needs} --recipe-from {png}`"


def test_a_png_without_a_recipe_or_unreadable_is_refused_in_one_line(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    assert refusal("generate", "--recipe-from", plain) == f"{plain}: has no studio recipe"
    assert refusal("generate", "--recipe-from", tmp_path / "gone.png").startswith(
        f"{tmp_path / 'gone.png'}: cannot read (No such file or directory")


def test_recipe_values_outside_the_limits_are_refused_like_flags(tmp_path):
    png = recipe_png(tmp_path / "r.png", guidance_scale=12.0)
    assert "guidance scale must lie in [0, 30], got 31" in refusal("generate", "--recipe-from", png,
                                                                     "--guidance", "31")


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
    assert result.stderr == (f"studio: error: {tmp_path / 's.png'}: is a strokes-to-image recipe; run "
                             f"`studio sdedit --image PAINTING --recipe-from {tmp_path / 's.png'}`\n")


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


def test_a_batch_from_a_recipe_of_another_model_says_so_once(tiny_cascade, tmp_path, capsys):
    png = recipe_png(tmp_path / "r.png", steps=1, cascade=False)  # digest 000…: no real model has it
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a\nb\n")
    assert cli.main(["batch", "--model", str(tiny_cascade), "--recipe-from", str(png), "--prompts", str(prompts),
                     "--seeds", "1", "--out", str(tmp_path / "out")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("studio: note:")]
    assert len(notes) == 1 and "the model's files differ from the recipe's" in notes[0]
    assert read_recipe(tmp_path / "out" / "1-a.png").settings.steps == 1
