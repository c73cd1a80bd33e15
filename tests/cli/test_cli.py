"""The `studio` command, run as a user runs it: a subprocess, its files, its exit status."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from studio.core.settings import Recipe


def studio(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_generate_writes_the_same_bytes_for_the_same_arguments(tiny_cascade, tmp_path):
    args = ["generate", "--model", tiny_cascade, "--prompt", "red apple", "--steps", "6", "--sr-steps", "3",
            "--seed", "7", "--guidance", "2.5"]
    first = studio(*args, "--out", tmp_path / "a.png")
    second = studio(*args, "--out", tmp_path / "b.png")
    assert first.returncode == 0 and second.returncode == 0, first.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    other = studio(*args[:-4], "--seed", "8", "--guidance", "2.5", "--out", tmp_path / "c.png")
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes(), other.stderr


def test_generate_reports_progress_on_stderr_and_stores_the_recipe(tiny_cascade, tmp_path):
    out = tmp_path / "x.png"
    result = studio("generate", "--model", tiny_cascade, "--prompt", "cat", "--steps", "4", "--sr-steps", "2",
                    "--sampler", "ddpm", "--negative", "blue", "--out", out)
    assert result.returncode == 0
    assert "base step 4/4" in result.stderr and "sr step 2/2" in result.stderr and "ETA" in result.stderr
    with Image.open(out) as img:
        assert img.size == (32, 32)
        recipe = Recipe.from_json(img.text["studio"])
        assert img.text["parameters"].startswith("cat\nNegative prompt: blue\nSteps: 4, Sampler: DDPM")
    assert recipe.settings.prompt == "cat" and recipe.settings.negative_prompt == "blue"


def test_a_batch_writes_numbered_files(tiny_cascade, tmp_path):
    result = studio("generate", "--model", tiny_cascade, "--steps", "3", "--batch", "3", "--no-cascade",
                    "--out", tmp_path / "b.png")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("b-*.png")) == ["b-1.png", "b-2.png", "b-3.png"]
    with Image.open(tmp_path / "b-1.png") as img:
        assert img.size == (16, 16)


def test_save_steps_writes_x_t_and_x0_of_every_step(tiny_cascade, tmp_path):
    result = studio("generate", "--model", tiny_cascade, "--steps", "5", "--sr-steps", "2",
                    "--out", tmp_path / "o.png", "--save-steps", tmp_path / "steps")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "steps").iterdir())
    assert len(names) == 2 * (5 + 2)
    assert "base-000-xt.png" in names and "sr-001-x0.png" in names


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["generate", "--model", "MISSING"], "no such file"),
        (["generate", "--model", "CASCADE", "--steps", "0"], "steps must lie in [1, 1000]"),
        (["generate", "--model", "CASCADE", "--guidance", "1e9"], "guidance scale must lie in [0, 30]"),
        (["generate", "--model", "CASCADE", "--sampler", "lms"], "invalid choice"),
        (["generate", "--model", "CASCADE", "--eta", "lots"], "invalid float value"),
        (["info", "MISSING"], "no such file"),
        (["sdedit", "--model", "CASCADE", "--image", "MISSING"], "no such file"),
        (["frobnicate"], "invalid choice"),
        (["generate", "--model", "NOTAMODEL"], "not a safetensors file"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2_without_a_traceback(args, words, tiny_cascade, tmp_path):
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_text("hello, this is a text file and not a model")
    swap = {"MISSING": str(tmp_path / "missing.safetensors"), "CASCADE": str(tiny_cascade), "NOTAMODEL": str(bogus)}
    result = studio(*[swap.get(a, a) for a in args], "--out", tmp_path / "o.png") if args[0] != "info" \
        else studio(*[swap.get(a, a) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert words in lines[0]


def test_an_unwritable_output_is_a_one_line_error(tiny_cascade, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = studio("generate", "--model", tiny_cascade, "--steps", "2", "--no-cascade", "--out", blocker / "x.png")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write" in result.stderr


def test_info_prints_card_and_config(tiny_cascade):
    result = studio("info", tiny_cascade)
    assert result.returncode == 0
    assert "[base] tiny base" in result.stdout and '"resolution": 16' in result.stdout


def test_version():
    result = studio("--version")
    assert result.returncode == 0 and result.stdout.startswith("studio ")


def test_sdedit_inpaint_and_upscale_run_from_image_files(tiny_cascade, tmp_path):
    image = tmp_path / "in.png"
    Image.new("RGB", (20, 20), (200, 30, 30)).save(image)  # a wrong size: resized with a note
    mask = tmp_path / "mask.png"
    Image.new("L", (20, 20), 0).save(mask)
    with Image.open(mask) as m:
        m.paste(255, (5, 5, 15, 15))
        m.save(mask)
    for command, extra in (("sdedit", ["--strength", "0.5"]), ("inpaint", ["--mask", mask]), ("upscale", [])):
        result = studio(command, "--model", tiny_cascade, "--image", image, *extra, "--steps", "4",
                        "--sr-steps", "2", "--out", tmp_path / f"{command}.png")
        assert result.returncode == 0, (command, result.stderr)
        assert "was resized" in result.stderr
        recipe = json.loads(Image.open(tmp_path / f"{command}.png").text["studio"])
        assert recipe["kind"] in ("strokes-to-image", "inpaint", "upscale")


def test_with_no_arguments_the_entry_opens_the_window_and_the_cli_alone_asks_for_a_command(monkeypatch, capsys):
    import studio.__main__ as entry
    from studio.cli import main

    monkeypatch.setattr(entry, "run_window", lambda: 7)
    assert entry.main([]) == 7
    assert entry.main(["frobnicate"]) == 2 and "invalid choice" in capsys.readouterr().err
    assert main([]) == 2
    assert capsys.readouterr().err == "studio: error: no command given; see `studio --help`\n"
