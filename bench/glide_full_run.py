"""A whole GLIDE text → 256×256 run, timed the way a user would meet it: random weights of the real shapes
are saved as the `.pt` files OpenAI publishes (nothing is downloaded), imported with `studio import`, tied
with `studio cascade`, then one `studio generate` runs at the presets' own settings (base "100" with
guidance 3 on a CFG-doubled batch, upsampler "fast27" at temperature 0.997).

    python bench/glide_full_run.py [--work DIR] [--prompt TEXT]

Prints the wall time and peak RSS of each command (GNU time). float32 on the CPU. The files take about
6.5 GB in the work folder (a temporary one unless --work is given).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FILES = {"base": ("glide-base", "base.pt"), "sr": ("glide-upsample", "upsample.pt")}


def write_checkpoint(preset_name: str, path: Path) -> int:
    """A state dict under the reference's names and shapes, saved with torch.save as OpenAI's code does."""
    import torch

    from studio.models.openai.convert import reference_shapes
    from studio.models.openai.flags import spec_from_flags
    from studio.models.openai.presets import PRESETS

    preset = PRESETS[preset_name]
    shapes = reference_shapes(spec_from_flags(preset.architecture, preset.flags).config)
    generator = torch.Generator().manual_seed(0)
    state = {}
    for name, shape in shapes.items():
        if len(shape) >= 2:  # fan-in scaling keeps activations O(1) through 100 steps of random weights
            state[name] = torch.randn(shape, generator=generator) / math.sqrt(math.prod(shape[1:]))
        else:
            state[name] = torch.ones(shape) if name.endswith("weight") else torch.zeros(shape)
    torch.save(state, path)
    return sum(t.numel() for t in state.values())


def timed(args: list[str], cwd: Path) -> dict:
    """Run `python -m studio ARGS` under GNU time; its progress lines pass through to our stderr."""
    command = ["/usr/bin/time", "-f", "TIME %e %M", sys.executable, "-m", "studio", *args]
    start = time.perf_counter()
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - start
    lines = proc.stderr.splitlines()
    sys.stderr.write("\n".join(line for line in lines[-6:] if not line.startswith("TIME ")) + "\n")
    if proc.returncode != 0:
        raise SystemExit(f"studio {args[0]} failed ({proc.returncode})")
    match = next(m for m in map(re.compile(r"TIME ([\d.]+) (\d+)").match, reversed(lines)) if m)
    return {"command": args[0], "wall_s": round(wall, 1), "peak_rss_gb": round(int(match[2]) / 2**20, 2)}


def run(work: Path, prompt: str) -> list[dict]:
    results = []
    for role, (preset, filename) in FILES.items():
        print(f"{preset}: {write_checkpoint(preset, work / filename):,} parameters", flush=True)
        flags = ["--preset", preset, "--out", f"{role}.safetensors"]
        results.append(timed(["import", "glide", filename, *flags], work))
    results.append(timed(["cascade", "--name", "GLIDE (random weights)", "--base", "base.safetensors",
                          "--sr", "sr.safetensors", "--out", "."], work))
    results.append(timed(["generate", "--model", ".", "--prompt", prompt, "--seed", "0", "--out", "out.png"],
                         work))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=None, help="folder for the files (default: a temporary one)")
    parser.add_argument("--prompt", default="an oil painting of a corgi")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for result in run(work, args.prompt):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
