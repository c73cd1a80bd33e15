"""`studio bench unet`: our U-Net against diffusers' UNet2DModel of the same shape, in one process.

Both networks get the same channel widths, blocks per level, attention resolutions and head width,
no conditioning, a 32×32 batch of 2 in float32 on the CPU under inference mode. They run
interleaved (ours, theirs, ours, …) so that machine noise hits both alike; the ratio reported is
the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from studio.models.config import UNetConfig
from studio.models.unet import UNet


@dataclass(frozen=True)
class BenchResult:
    params_ours: int
    params_theirs: int
    gflops_ours: float
    gflops_theirs: float
    seconds_ours: float
    seconds_theirs: float
    ratio: float  # median over rounds of ours / theirs
    rounds: int
    threads: int


def diffusers_twin(c: UNetConfig):
    """diffusers.UNet2DModel with our config's widths, depth, attention levels and head size."""
    try:
        from diffusers import UNet2DModel
    except ImportError:
        raise RuntimeError("the U-Net benchmark needs diffusers: pip install -e '.[bench]'") from None
    sizes = [c.resolution // 2**i for i in range(len(c.channel_mult))]
    attn = [s in c.attention_resolutions for s in sizes]
    return UNet2DModel(
        sample_size=c.resolution, in_channels=c.in_channels, out_channels=c.out_channels,
        block_out_channels=tuple(c.model_channels * m for m in c.channel_mult),
        layers_per_block=c.num_res_blocks,
        down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attn),
        up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)),
        attention_head_dim=c.num_head_channels, norm_num_groups=32,
    )


def count_gflops(fn: Callable[[], object]) -> float:
    # counted with autograd enabled so every layer takes its plain path (the packed oneDNN
    # convolution is invisible to the counter but does the same arithmetic)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(False), torch.enable_grad(), counter:
        fn()
    return counter.get_total_flops() / 1e9


def bench_unet(config: UNetConfig | None = None, rounds: int = 20, warmup: int = 3, seed: int = 0) -> BenchResult:
    config = config or UNetConfig(model_channels=64, channel_mult=(1, 2, 2), num_res_blocks=2,
                                  attention_resolutions=(16, 8), num_head_channels=32, resolution=32)
    torch.manual_seed(seed)
    ours = UNet(config).eval().to(memory_format=torch.channels_last)
    theirs = diffusers_twin(config).eval()
    x = torch.randn(2, config.in_channels, config.resolution, config.resolution)
    t = torch.tensor([10, 500])
    x_cl = x.contiguous(memory_format=torch.channels_last)
    run_ours, run_theirs = (lambda: ours(x_cl, t)), (lambda: theirs(x, t).sample)
    gf_ours, gf_theirs = count_gflops(run_ours), count_gflops(run_theirs)
    times_ours, times_theirs = [], []
    with torch.inference_mode():
        for _ in range(warmup):
            run_ours(), run_theirs()
        for _ in range(rounds):
            times_ours.append(_time(run_ours))
            times_theirs.append(_time(run_theirs))
    ratios = [a / b for a, b in zip(times_ours, times_theirs, strict=True)]
    return BenchResult(
        params_ours=sum(p.numel() for p in ours.parameters()),
        params_theirs=sum(p.numel() for p in theirs.parameters()),
        gflops_ours=gf_ours, gflops_theirs=gf_theirs,
        seconds_ours=statistics.median(times_ours), seconds_theirs=statistics.median(times_theirs),
        ratio=statistics.median(ratios), rounds=rounds, threads=torch.get_num_threads(),
    )


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report(r: BenchResult) -> str:
    flop_gap = r.gflops_ours / r.gflops_theirs - 1
    return "\n".join([
        f"U-Net 32×32, batch 2, float32, CPU, {r.threads} threads, {r.rounds} interleaved rounds",
        f"{'':12}{'params':>12}{'GFLOPs':>10}{'s/forward':>12}",
        f"{'ours':12}{r.params_ours:>12,}{r.gflops_ours:>10.3f}{r.seconds_ours:>12.4f}",
        f"{'diffusers':12}{r.params_theirs:>12,}{r.gflops_theirs:>10.3f}{r.seconds_theirs:>12.4f}",
        f"FLOPs ours/diffusers {1 + flop_gap:.3f} ({flop_gap:+.1%}); "
        f"time ours/diffusers {r.ratio:.3f} (target ≤ 0.75)",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studio bench unet")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    try:
        result = bench_unet(rounds=args.rounds)
    except RuntimeError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 2
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
