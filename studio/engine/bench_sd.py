"""`studio bench sd-unet`: Stable Diffusion 1.5's U-Net, ours against diffusers', in one process.

Both get the same random weights — ours written under the checkpoint's names, converted for diffusers
by its own single-file converter — and the same input: 64×64×4 latents (a 512×512 image), batch 2
(one classifier-free-guidance step), 77 prompt states of width 768, float32 on the CPU under inference
mode, interleaved rounds so machine noise hits both alike (the ratio is the median of per-round ratios).
It also times the per-step preview (affine latent → RGB of x_t and x̂₀, brought to 512×512 and to
8 bits) against the same step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.engine.previews import to_uint8
from studio.models.sd.config import SD1Config
from studio.models.sd.network import StableDiffusion


@dataclass(frozen=True)
class SDBenchResult:
    seconds_ours: float
    seconds_theirs: float
    ratio: float  # median over rounds of ours / theirs
    preview_seconds: float  # both previews of one step
    preview_fit_seconds: float  # once per loaded model
    rounds: int
    threads: int

    @property
    def preview_share(self) -> float:
        return self.preview_seconds / self.seconds_ours


def diffusers_sd_unet(module: StableDiffusion):
    try:
        from diffusers import UNet2DConditionModel
        from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
    except ImportError:
        raise RuntimeError("the SD U-Net benchmark needs diffusers: pip install -e '.[dev]'") from None
    c = module.config.unet
    levels = len(c.channel_mult)
    theirs = UNet2DConditionModel(
        sample_size=64, in_channels=c.in_channels, out_channels=c.out_channels, layers_per_block=c.num_res_blocks,
        block_out_channels=tuple(c.model_channels * m for m in c.channel_mult),
        down_block_types=tuple("CrossAttnDownBlock2D" if i in c.attention_levels else "DownBlock2D"
                               for i in range(levels)),
        up_block_types=tuple("CrossAttnUpBlock2D" if i in c.attention_levels else "UpBlock2D"
                             for i in reversed(range(levels))),
        cross_attention_dim=c.context_dim, attention_head_dim=c.num_heads,
    )
    theirs.load_state_dict(convert_ldm_unet_checkpoint(module.state_dict(), theirs.config))
    return theirs.eval()


def bench_sd_unet(config: SD1Config | None = None, rounds: int = 5, warmup: int = 1, seed: int = 0) -> SDBenchResult:
    config = config or SD1Config()
    torch.manual_seed(seed)
    ours = StableDiffusion(config).eval()
    theirs = diffusers_sd_unet(ours)
    g = torch.Generator().manual_seed(seed)
    size = config.latent_size
    x = torch.randn(2, config.unet.in_channels, size, size, generator=g)
    context = torch.randn(2, 77, config.unet.context_dim, generator=g)
    t = torch.tensor([500, 500])
    times_ours, times_theirs = [], []
    with torch.inference_mode():
        run_ours, run_theirs = (lambda: ours.unet(x, t, context)), (lambda: theirs(x, t, context).sample)
        for _ in range(warmup):
            run_ours(), run_theirs()
        for _ in range(rounds):
            times_ours.append(_time(run_ours))
            times_theirs.append(_time(run_theirs))
        fit = _time(ours.preview_map)
        z = x[:1, : config.vae.z_channels]

        def preview() -> None:
            for latents in (z, z):  # x_t and x̂₀
                to_uint8(F.interpolate(ours.preview_latents(latents), scale_factor=config.vae.factor))

        previews = statistics.median(_time(preview) for _ in range(5))
    return SDBenchResult(
        seconds_ours=statistics.median(times_ours), seconds_theirs=statistics.median(times_theirs),
        ratio=statistics.median(a / b for a, b in zip(times_ours, times_theirs, strict=True)),
        preview_seconds=previews, preview_fit_seconds=fit, rounds=rounds, threads=torch.get_num_threads(),
    )


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report(r: SDBenchResult) -> str:
    return "\n".join([
        f"SD 1.5 U-Net, 64×64 latents (512×512), batch 2, float32, CPU, {r.threads} threads, "
        f"{r.rounds} interleaved rounds",
        f"ours       {r.seconds_ours:8.3f} s/forward",
        f"diffusers  {r.seconds_theirs:8.3f} s/forward",
        f"time ours/diffusers {r.ratio:.3f} (target ≤ 0.8)",
        f"per-step preview {r.preview_seconds * 1000:.1f} ms = {r.preview_share:.2%} of a step (target ≤ 5 %); "
        f"fitting its map once per model {r.preview_fit_seconds:.2f} s",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studio bench sd-unet")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        result = bench_sd_unet(rounds=args.rounds)
    except RuntimeError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 2
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
