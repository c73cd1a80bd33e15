"""`studio bench sd-x4`: the SD x4 upscaler at its released shapes with random weights (no download).

What one 128 → 512 upscale costs on this machine in float32: the parameter counts, one prompt encoding,
the U-Net step at 128×128 latents beside the 128-px low-res image — one row unguided, two rows under the
classifier-free guidance the stage runs with by default (scale 9, as diffusers) — the f = 4 decode to
512×512, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from studio.models.sd.config import x4_upscaler_config
from studio.models.sd.network import StableDiffusion


@dataclass(frozen=True)
class X4BenchResult:
    unet_parameters: int
    vae_parameters: int
    text_parameters: int
    seconds_per_step: float  # median U-Net forward, one row (`--sr-guidance 1`)
    seconds_per_guided_step: float  # two rows: [prompt; negative prompt]
    seconds_prompt: float
    seconds_decode: float
    peak_rss_gb: float
    rounds: int
    threads: int


def bench_x4(rounds: int = 3, low_res: int = 128, seed: int = 0) -> X4BenchResult:
    torch.manual_seed(seed)
    model = StableDiffusion(x4_upscaler_config()).eval()
    from studio.models.families.sd1 import clip_tokenizer  # the real tokenizer: the prompt's cost is real

    model.tokenizer = clip_tokenizer()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, low_res, low_res, generator=g)
    low = torch.rand(1, 3, low_res, low_res, generator=g).expand(2, -1, -1, -1) * 2 - 1
    t, level = torch.tensor([500, 500]), torch.tensor([20, 20])
    with torch.inference_mode():
        start = time.perf_counter()
        context = model.encode_prompts(["a photograph of a red apple on a wooden table", ""])
        prompt = time.perf_counter() - start
        medians = []
        for rows in (1, 2):
            steps = []
            for _ in range(rounds + 1):  # the first is a warm-up
                start = time.perf_counter()
                model(x[:rows], t[:rows], context=context[:rows], extra=low[:rows], labels=level[:rows])
                steps.append(time.perf_counter() - start)
            medians.append(statistics.median(steps[1:]))
        start = time.perf_counter()
        model.decode_latents(x[:1])
        decode = time.perf_counter() - start
    return X4BenchResult(_parameters(model.unet), _parameters(model.vae), _parameters(model.text_encoder),
                         medians[0], medians[1], prompt, decode,
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, rounds, torch.get_num_threads())


def _parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def report(r: X4BenchResult) -> str:
    return "\n".join([
        f"SD x4 upscaler, released shapes, random weights, 128 → 512 px, float32, CPU, {r.threads} threads",
        f"parameters  U-Net {r.unet_parameters / 1e6:.1f} M, autoencoder {r.vae_parameters / 1e6:.1f} M, "
        f"OpenCLIP text {r.text_parameters / 1e6:.1f} M",
        f"prompt      {r.seconds_prompt:8.2f} s (once per run)",
        f"U-Net step  {r.seconds_per_step:8.2f} s unguided, {r.seconds_per_guided_step:.2f} s guided "
        f"(two rows; medians of {r.rounds})",
        f"decode      {r.seconds_decode:8.2f} s (once per run)",
        f"peak RSS    {r.peak_rss_gb:8.2f} GB",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studio bench sd-x4")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(report(bench_x4(rounds=args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
