"""Our OpenAI networks against the reference code's outputs (tests/fixtures/openai, made by
make_fixtures.py with OpenAI's own modules): the same weights under the checkpoint's names, imported
through our conversion, give the reference's output to 1e-4 relative."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.enums import Architecture
from studio.models.openai.convert import build_network, convert, reference_shapes
from studio.models.openai.flags import spec_from_flags

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai"
sys.path.insert(0, str(FIXTURES))
from weights import weights  # noqa: E402

CASES = sorted(p.stem for p in FIXTURES.glob("*.npz"))
INPUTS = {"in_y": "y", "in_tokens": "tokens", "in_mask": "mask", "in_low_res": "low_res",
          "in_inpaint_image": "inpaint_image", "in_inpaint_mask": "inpaint_mask"}


def load_case(name: str):
    data = np.load(FIXTURES / f"{name}.npz")
    spec = spec_from_flags(Architecture(str(data["family"])), json.loads(str(data["flags"])))
    shapes = dict(zip(data["names"].tolist(), map(tuple, json.loads(str(data["shapes"]))), strict=True))
    return data, spec, shapes


def reference_weights(shapes):
    return {k: torch.from_numpy(v) for k, v in weights(shapes).items()}


def run(module, data):
    kwargs = {INPUTS[k]: torch.from_numpy(data[k]) for k in INPUTS if k in data}
    with torch.no_grad():
        return module(torch.from_numpy(data["in_x"]), torch.from_numpy(data["in_timesteps"]), **kwargs)


def test_there_is_a_fixture_of_every_kind():
    assert len(CASES) == 10  # 5 ADM (U-Net ×2, upsampler, classifier ×2), 1 iddpm, 4 GLIDE


@pytest.mark.parametrize("name", CASES)
def test_our_network_has_the_references_names_and_shapes(name):
    data, spec, shapes = load_case(name)
    assert reference_shapes(spec.config) == shapes
    total = sum(float(np.abs(v).sum()) for v in weights(shapes).values())
    assert total == pytest.approx(float(data["weight_sum"]), rel=1e-6), "weights.py changed: remake the fixtures"


@pytest.mark.parametrize("name", CASES)
def test_our_network_matches_the_reference_output(name):
    data, spec, shapes = load_case(name)
    module = build_network(spec.config).eval()
    module.load_state_dict(convert(spec, reference_weights(shapes)))
    expected = torch.from_numpy(data["out_logits" if "out_logits" in data else "out_model"])
    got = run(module, data)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


@pytest.mark.parametrize("name", ["adm_unet_legacy_order", "glide_base"])
def test_the_wrong_attention_order_gives_a_different_output(name):
    """Which order a file uses is not in its keys: importing with the other one must show."""
    data, spec, shapes = load_case(name)
    wrong = type(spec)(spec.config, new_attention_order=not spec.new_attention_order)
    module = build_network(spec.config).eval()
    module.load_state_dict(convert(wrong, reference_weights(shapes)))
    expected = torch.from_numpy(data["out_model"])
    assert (run(module, data) - expected).abs().max() > 1e-2 * expected.abs().max()
