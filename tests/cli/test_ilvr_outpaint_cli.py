"""`studio ilvr` (and `studio outpaint`), run as a user runs them."""

import numpy as np
from PIL import Image

from studio.core.settings import JobKind, Recipe
from tests.cli.test_cli import studio


def test_ilvr_at_factor_one_returns_the_reference_and_at_four_samples_new_detail(tiny_cascade, tmp_path):
    """The tiny random model's detail is wild (clipped pixels), so the block-mean property is checked in
    tests/diffusion/test_ilvr.py; here: N = 1 gives the reference back (to 8-bit rounding), N = 4 does not
    copy it, and the recipe records the job kind, the factor and the reference's digest."""
    rng = np.random.default_rng(0)
    ref = np.kron(rng.integers(40, 215, (4, 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    Image.fromarray(ref).save(tmp_path / "ref.png")
    made = {}
    for factor in (1, 4):
        out = tmp_path / f"o{factor}.png"
        result = studio("ilvr", "--model", tiny_cascade, "--image", tmp_path / "ref.png", "--factor", factor,
                        "--steps", "8", "--no-cascade", "--seed", "3", "--out", out)
        assert result.returncode == 0, result.stderr
        with Image.open(out) as img:
            made[factor] = np.asarray(img.convert("RGB")).astype(int)
            recipe = Recipe.from_json(img.text["studio"])
        assert recipe.kind is JobKind.ILVR and recipe.settings.ilvr_factor == factor and dict(recipe.inputs)["image"]
    assert np.abs(made[1] - ref).max() <= 1
    assert np.abs(made[4] - ref).mean() > 3


def test_an_ilvr_factor_that_does_not_divide_the_model_size_is_one_line_and_exit_2(tiny_cascade, tmp_path):
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "ref.png")
    result = studio("ilvr", "--model", tiny_cascade, "--image", tmp_path / "ref.png", "--factor", "3",
                    "--out", tmp_path / "o.png")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "studio: error: the ILVR factor 3 must divide the model's size (16 px)"


def test_outpaint_grows_the_image_keeps_its_pixels_and_fills_the_new_area(tiny_cascade, tmp_path):
    """16 px model, image grown by 8 px left and 4 px at the bottom: the output is 24×20, the original
    pixels are there unchanged at their offset, and the new area is painted (not the edge-repeat start)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "in.png")
    out = tmp_path / "o.png"
    result = studio("outpaint", "--model", tiny_cascade, "--image", tmp_path / "in.png", "--left", "8",
                    "--bottom", "4", "--steps", "4", "--out", out)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as img:
        made = np.asarray(img.convert("RGB"))
    assert made.shape == (20, 24, 3)
    assert np.array_equal(made[:16, 8:], image)
    new_area = np.ones((20, 24), bool)
    new_area[:16, 8:] = False
    edge_start = np.pad(image, ((0, 4), (8, 0), (0, 0)), mode="edge")
    assert np.abs(made[new_area].astype(int) - edge_start[new_area]).mean() > 5


def test_outpaint_refuses_a_canvas_smaller_than_the_model_in_one_line(tiny_cascade, tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in.png")
    result = studio("outpaint", "--model", tiny_cascade, "--image", tmp_path / "in.png", "--right", "4",
                    "--out", tmp_path / "o.png")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "smaller than the model's 16 px" in result.stderr
