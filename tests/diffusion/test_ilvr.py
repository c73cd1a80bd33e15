"""ILVR (Choi et al. 2021) on exact denoisers: images of 3×8×8 pixels whose pixels are independent
N(0, 0.5²) — the Gaussian oracle in 192 dimensions, reshaped."""

import pytest
import torch

from studio.core.enums import SamplerKind, VarianceType
from studio.diffusion.chain import descending, run_chain
from studio.diffusion.denoiser import Prediction
from studio.diffusion.ilvr import ilvr, low_pass
from studio.diffusion.samplers import SamplerOptions, sampler_kinds, sampler_spec
from studio.diffusion.schedule import linear_schedule, respace
from tests.diffusion.oracles import F64, denoiser, isotropic, one_thread  # noqa: F401

LINEAR = linear_schedule()
AB = LINEAR.alphas_cumprod
SHAPE = (3, 8, 8)
DATA = isotropic([0.0] * 192, 0.5)
CHAIN = respace(LINEAR, 25)


def image_denoiser():
    flat = denoiser(DATA.eps, AB)

    def denoise(x_t, t):
        p = flat(x_t.reshape(x_t.shape[0], -1, 1, 1), t)
        return Prediction(x_t=x_t, abar=p.abar.reshape(-1, 1, 1, 1), eps=p.eps.reshape(x_t.shape),
                          x0=p.x0.reshape(x_t.shape))

    return denoise


def sample_chain(denoise, step, x, chain):
    return run_chain(denoise, step, x, chain, descending(chain))


def reference(seed: int = 0) -> torch.Tensor:
    return 0.5 * torch.randn(1, *SHAPE, dtype=F64, generator=torch.Generator().manual_seed(seed))


def run(factor: int, kind: SamplerKind = SamplerKind.DDPM, n: int = 8, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    step = sampler_spec(kind).step(CHAIN, VarianceType.POSTERIOR, g, SamplerOptions())
    return ilvr(image_denoiser(), step, reference().expand(n, *SHAPE), factor, CHAIN, generator=g)


def test_the_low_pass_is_the_block_mean_and_a_projection():
    x = torch.arange(16, dtype=F64).reshape(1, 1, 4, 4)
    assert low_pass(x, 2)[0, 0, 0].tolist() == [2.5, 2.5, 4.5, 4.5]
    assert torch.equal(low_pass(low_pass(x, 2), 2), low_pass(x, 2)) and torch.equal(low_pass(x, 1), x)


@pytest.mark.parametrize("kind", sampler_kinds())
@pytest.mark.parametrize("factor", [2, 4])
def test_the_low_pass_of_the_result_is_the_references_for_every_sampler(kind, factor):
    """φ_N(result) = φ_N(reference) to 1e-12 (the last refinement uses the reference itself), while the
    high frequencies are new: each sample's detail differs from the reference's and from the others'."""
    out = run(factor, kind)
    ref = reference()
    assert torch.allclose(low_pass(out, factor), low_pass(ref, factor).expand_as(out), rtol=0, atol=1e-12)
    detail = out - low_pass(out, factor)
    assert (detail - (ref - low_pass(ref, factor))).abs().mean() > 0.1
    assert (detail[0] - detail[1]).abs().mean() > 0.1


def test_a_factor_of_one_reproduces_the_reference():
    assert torch.allclose(run(1), reference().expand(8, *SHAPE), rtol=0, atol=1e-12)


def test_the_detail_has_the_variance_the_sampler_gives_without_ilvr():
    """N = 64 images, N = 4: for independent pixels the detail (high-pass part) is independent of the block
    means, so fixing the block means must leave its variance as plain sampling on the same 25-step chain
    gives it (which is itself below the data's 0.25 · 15/16 by DDPM's discretisation error): within 10 %."""
    out = run(4, SamplerKind.DDPM, n=64)
    g = torch.Generator().manual_seed(1)
    step = sampler_spec(SamplerKind.DDPM).step(CHAIN, VarianceType.POSTERIOR, g, SamplerOptions())
    plain = sample_chain(image_denoiser(), step, torch.randn(64, *SHAPE, dtype=F64, generator=g), CHAIN)
    ilvr_var, plain_var = float((out - low_pass(out, 4)).var()), float((plain - low_pass(plain, 4)).var())
    assert ilvr_var == pytest.approx(plain_var, rel=0.1)


def test_a_factor_that_does_not_divide_the_size_is_refused():
    with pytest.raises(ValueError, match="must divide the image size 8×8"):
        run(3)
