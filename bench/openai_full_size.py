"""Full-size OpenAI networks with random weights of the real shapes (nothing is downloaded): parameter
counts, seconds per network call and peak RSS on this machine, and what a whole GLIDE text → 256×256 run
costs at the reference's settings (base: 100 steps of a CFG-doubled batch; upsampler: "fast27").

    python bench/openai_full_size.py [--steps 2] [--only glide|adm]

Each stage is measured in a fresh child process so its peak RSS is its own. float32, CPU, eval,
inference mode; batch 1 (GLIDE base: 2 rows, conditional and unconditional).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STAGES = {
    "glide": [("glide-base", 2), ("glide-upsample", 1)],
    "adm": [("adm-256", 1), ("adm-256-classifier", 1)],
}


def measure(preset_name: str, batch: int, steps: int) -> dict:
    import torch

    from studio.core.enums import NetKind
    from studio.models.openai.convert import build_network
    from studio.models.openai.flags import spec_from_flags
    from studio.models.openai.presets import PRESETS

    torch.manual_seed(0)
    preset = PRESETS[preset_name]
    config = spec_from_flags(preset.architecture, preset.flags).config
    net = config.openai
    t0 = time.perf_counter()
    module = build_network(config).eval()
    built = time.perf_counter() - t0
    size = config.resolution
    x = torch.randn(batch, 3, size, size)
    t = torch.full((batch,), 500)
    kwargs = {}
    if net.num_classes:
        kwargs["y"] = torch.zeros(batch, dtype=torch.long)
    if net.text is not None:
        kwargs["tokens"] = torch.randint(0, net.text.vocab_size, (batch, net.text.text_ctx))
        kwargs["mask"] = torch.ones(batch, net.text.text_ctx, dtype=torch.bool)
    if net.kind is NetKind.SUPER_RES:
        kwargs["low_res"] = torch.randn(batch, 3, config.low_res, config.low_res)
    times = []
    with torch.inference_mode():
        for _ in range(steps + 1):  # the first call warms oneDNN up
            start = time.perf_counter()
            module(x, t, **kwargs)
            times.append(time.perf_counter() - start)
    grad_s = None
    if net.kind is NetKind.CLASSIFIER:  # classifier guidance: ∇_x log p(y | x_t), a forward and a backward
        start = time.perf_counter()
        xg = x.clone().requires_grad_(True)
        torch.autograd.grad(torch.log_softmax(module(xg, t), -1)[:, 0].sum(), xg)
        grad_s = round(time.perf_counter() - start, 2)
    return {"preset": preset_name, "grad_s": grad_s, "parameters": sum(p.numel() for p in module.parameters()),
            "batch": batch,
            "resolution": size, "build_s": round(built, 1), "first_call_s": round(times[0], 2),
            "s_per_call": round(min(times[1:]), 2), "peak_rss_gb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2), "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2, help="timed calls per network (after one warm-up)")
    parser.add_argument("--only", choices=sorted(STAGES), default=None)
    parser.add_argument("--child", nargs=2, metavar=("PRESET", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.steps)))
        return
    results = {}
    for family, stages in STAGES.items():
        if args.only and family != args.only:
            continue
        for preset, batch in stages:
            out = subprocess.run([sys.executable, __file__, "--child", preset, str(batch), "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            results[preset] = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(results[preset]), flush=True)
    if "glide-base" in results and "glide-upsample" in results:
        total = 100 * results["glide-base"]["s_per_call"] + 27 * results["glide-upsample"]["s_per_call"]
        print(f"GLIDE text → 256×256 (base 100 steps with CFG + upsampler fast27): about {total / 60:.1f} min")
    if "adm-256" in results and "adm-256-classifier" in results:
        step = results["adm-256"]["s_per_call"] + results["adm-256-classifier"]["grad_s"]
        print(f"ADM 256 + classifier guidance: about {step:.1f} s per step, {250 * step / 60:.0f} min for 250 steps")


if __name__ == "__main__":
    main()
