"""Batch export, PNG metadata round trips and step sequences, from the command line."""

import os

import pytest
from PIL import Image

from studio.cli import main
from studio.core.settings import Recipe


def _prompts(tmp_path, lines):
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_the_parameters_chunk_reads_like_other_tools_and_the_recipe_restores_exactly(tiny_cascade, tmp_path):
    out = tmp_path / "a.png"
    assert main(["generate", "--model", str(tiny_cascade), "--prompt", "red apple", "--negative", "blue",
                 "--steps", "4", "--sr-steps", "2", "--seed", "9", "--guidance", "4.5", "--sampler", "ddpm",
                 "--out", str(out)]) == 0
    with Image.open(out) as img:
        text = img.text
    assert text["parameters"].splitlines()[:2] == ["red apple", "Negative prompt: blue"]
    fields = text["parameters"].splitlines()[2]
    assert fields.startswith("Steps: 4, Sampler: DDPM, CFG scale: 4.5, Seed: 9, Size: 32x32")
    recipe = Recipe.from_json(text["studio"])
    again = tmp_path / "b.png"
    assert main(["generate", "--model", str(tiny_cascade), "--recipe-from", str(out), "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()
    assert Recipe.from_json(Image.open(again).text["studio"]) == recipe


def test_batch_writes_prompts_times_seeds_with_safe_names_and_a_contact_sheet(tiny_cascade, tmp_path, capsys):
    prompts = _prompts(tmp_path, ["red apple", "# a comment", "", "blue/cat", "猫"])
    out = tmp_path / "out"
    args = ["batch", "--model", str(tiny_cascade), "--prompts", str(prompts), "--seeds", "1-2", "--out", str(out),
            "--steps", "2", "--no-cascade", "--grid"]
    assert main(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["1-red-apple.png", "2-red-apple.png", "1-blue_cat.png", "2-blue_cat.png",
                            "1-猫.png", "2-猫.png", "contact-sheet.png"])
    assert "batch 6/6" in capsys.readouterr().err
    with Image.open(out / "contact-sheet.png") as sheet:
        assert sheet.size == (6 * 16, 16)


def test_an_interrupted_batch_resumes_and_nothing_is_overwritten(tiny_cascade, tmp_path, capsys):
    prompts = _prompts(tmp_path, ["red apple", "cat"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "1-red-apple.png").write_bytes(b"the user's own file")
    args = ["batch", "--model", str(tiny_cascade), "--prompts", str(prompts), "--seeds", "1,2", "--out", str(out),
            "--steps", "2", "--no-cascade"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 of 4 files already exist and are kept" in err and "3 written, 1 already there" in err
    assert (out / "1-red-apple.png").read_bytes() == b"the user's own file"
    assert main(args) == 0
    assert "0 written, 4 already there" in capsys.readouterr().err
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("fmt", ["jpg", "webp"])
def test_batch_writes_jpeg_and_webp_with_parameters_in_exif(tiny_cascade, tmp_path, fmt):
    prompts = _prompts(tmp_path, ["heart"])
    assert main(["batch", "--model", str(tiny_cascade), "--prompts", str(prompts), "--seeds", "3", "--out",
                 str(tmp_path / "o"), "--steps", "2", "--no-cascade", "--format", fmt]) == 0
    with Image.open(tmp_path / "o" / f"3-heart.{fmt}") as img:
        assert img.getexif()[0x9286].startswith("heart")


def test_an_unwritable_folder_is_one_clear_error(tiny_cascade, tmp_path, capsys):
    if os.geteuid() == 0:
        target = tmp_path / "file-not-folder"
        target.write_text("")
        out = target / "sub"
    else:
        out = tmp_path / "locked"
        out.mkdir()
        out.chmod(0o500)
    prompts = _prompts(tmp_path, ["star"])
    code = main(["batch", "--model", str(tiny_cascade), "--prompts", str(prompts), "--seeds", "1", "--out", str(out),
                 "--steps", "2", "--no-cascade"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "cannot write" in err[-1] and "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(("fmt", "name"), [("gif", "o-steps.gif"), ("webp", "o-steps.webp"), ("sheet", "o-steps.png")])
def test_steps_export_as_animations_or_a_contact_sheet(tiny_cascade, tmp_path, fmt, name):
    assert main(["generate", "--model", str(tiny_cascade), "--steps", "3", "--sr-steps", "2", "--out",
                 str(tmp_path / "o.png"), "--save-steps", str(tmp_path / "s"), "--sequence-format", fmt]) == 0
    with Image.open(tmp_path / "s" / name) as img:
        if fmt == "sheet":
            assert img.size == (5 * 32, 2 * 32)  # x_t row above x̂₀ row, 5 steps, SR size
        else:
            assert img.n_frames == 5


def test_bad_seed_lists_and_patterns_are_refused(tiny_cascade, tmp_path, capsys):
    prompts = _prompts(tmp_path, ["x"])
    for extra, words in ((["--seeds", "5-1"], "bad seed list"), (["--pattern", "{nope}"], "bad file-name pattern")):
        code = main(["batch", "--model", str(tiny_cascade), "--prompts", str(prompts), "--out", str(tmp_path / "o"),
                     *extra])
        assert code == 2 and words in capsys.readouterr().err


def test_recipe_from_an_image_without_one_is_refused(tmp_path, capsys, tiny_cascade):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    assert main(["generate", "--model", str(tiny_cascade), "--recipe-from", str(tmp_path / "plain.png")]) == 2
    assert "has no studio recipe" in capsys.readouterr().err
