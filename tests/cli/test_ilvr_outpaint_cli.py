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
