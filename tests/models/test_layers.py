"""The U-Net's layers compute the textbook functions, on the plain path and on the packed CPU path."""

import pytest
import torch
import torch.nn.functional as F

from studio.models.layers import EmbeddingProjection, Linear, ResBlock, Upsample


def _upsample(channels=8, seed=0):
    torch.manual_seed(seed)
    up = Upsample(channels)
    torch.nn.init.normal_(up.conv.bias)
    return up


def _textbook_upsample(up: Upsample, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), up.conv.weight, up.conv.bias, padding=1)


@pytest.mark.parametrize("size", [(4, 4), (5, 7), (1, 3)])
def test_upsample_equals_nearest_doubling_then_the_3x3_convolution(size):
    up = _upsample()
    x = torch.randn(2, 8, *size)
    expected = _textbook_upsample(up, x)
    got = up(x)
    assert got.shape == (2, 8, 2 * size[0], 2 * size[1])
    assert torch.allclose(got, expected, atol=1e-5)


def test_the_packed_upsample_equals_the_textbook_one_and_stays_channels_last():
    up = _upsample()
    x = torch.randn(2, 8, 6, 5).contiguous(memory_format=torch.channels_last)
    expected = _textbook_upsample(up, x).detach()
    with torch.inference_mode():
        got = up(x)
        assert got.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(got, expected, atol=1e-5)
        up.conv.weight.mul_(-1.0)  # an in-place update must refold and repack
        changed = up(x)
    assert not torch.allclose(changed, got, atol=1e-3)


def test_upsample_gradients_reach_the_3x3_weight_as_the_textbook_ones_do():
    up = _upsample()
    x = torch.randn(1, 8, 4, 4)
    (up(x) ** 2).sum().backward()
    folded = up.conv.weight.grad.clone()
    up.zero_grad()
    (_textbook_upsample(up, x) ** 2).sum().backward()
    assert torch.allclose(folded, up.conv.weight.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("size", "bound"), [(16, 0.52), (64, 0.47)])
def test_the_upsample_does_about_four_ninths_of_the_textbook_multiplications(size, bound):
    from torch.utils.flop_counter import FlopCounterMode

    up, x = _upsample(channels=32), torch.randn(1, 32, size, size)
    counts = []
    for fn in (lambda: up(x), lambda: _textbook_upsample(up, x)):
        counter = FlopCounterMode(display=False)
        with counter:
            fn()
        counts.append(counter.get_total_flops())
    # 16 taps per 2×2 outputs against 9 per output, plus one padded row and column of phases
    assert 4 / 9 < counts[0] / counts[1] < bound


def test_the_packed_linear_equals_the_plain_one_for_every_row_count():
    torch.manual_seed(0)
    layer = Linear(16, 24)
    for shape in [(2, 16), (3, 5, 16)]:
        x = torch.randn(shape)
        expected = layer(x).detach()
        with torch.inference_mode():
            assert torch.allclose(layer(x), expected, atol=1e-5)
    with torch.inference_mode():
        layer.weight.mul_(2.0)
        assert torch.allclose(layer(x), F.linear(x, layer.weight, layer.bias), atol=1e-5)


def test_each_block_gets_one_plus_scale_and_shift_from_its_slice_of_the_projection():
    torch.manual_seed(0)
    blocks = [ResBlock(32, 32), ResBlock(32, 64)]
    proj = EmbeddingProjection(16, blocks)
    emb = torch.randn(2, 16)
    raw = F.linear(F.silu(emb), proj.linear.weight, proj.linear.bias)
    (s0, b0), (s1, b1) = proj(emb)
    assert s0.shape == b0.shape == (2, 32, 1, 1) and s1.shape == b1.shape == (2, 64, 1, 1)
    assert torch.allclose(s0.flatten(1), 1 + raw[:, :32]) and torch.allclose(b0.flatten(1), raw[:, 32:64])
    assert torch.allclose(s1.flatten(1), 1 + raw[:, 64:128]) and torch.allclose(b1.flatten(1), raw[:, 128:])


def test_a_residual_block_modulates_the_second_norm_by_scale_and_shift():
    torch.manual_seed(0)
    block = ResBlock(32, 32).eval()
    torch.nn.init.normal_(block.conv2.weight, std=0.05)
    x = torch.randn(2, 32, 8, 8)
    one, zero = torch.ones(2, 32, 1, 1), torch.zeros(2, 32, 1, 1)
    h = block.norm2(block.conv1(F.silu(block.norm1(x))))
    expected = x + block.conv2(F.silu(h * 3.0 + 0.5))
    assert torch.allclose(block(x, (3.0 * one, 0.5 + zero)), expected, atol=1e-5)
    with torch.inference_mode():
        packed = block(x.contiguous(memory_format=torch.channels_last), (3.0 * one, 0.5 + zero))
    assert torch.allclose(packed, expected, atol=1e-5)


def test_the_layers_work_on_the_cpu_even_if_first_imported_under_a_meta_device_context():
    """read_model_info builds networks under `torch.device("meta")`; a module-level constant created
    there would be a meta tensor for the life of the process."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "with torch.device('meta'):\n"
        "    from studio.models.layers import Upsample\n"
        "up = Upsample(32)\n"
        "print(tuple(up(torch.randn(1, 32, 4, 4)).shape))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "(1, 32, 8, 8)", run.stderr
