#!/usr/bin/env bash
# Build the stand-alone folder, then check that it answers --version and generates headless.
# Usage: bash installer/smoke.sh [MODEL]   (MODEL: a model file or cascade; default: a tiny random one)
set -euo pipefail
cd "$(dirname "$0")/.."
bash installer/build.sh
exe=dist/diffusion-studio/diffusion-studio
"$exe" --version
model=${1:-}
work=$(mktemp -d)
if [ -z "$model" ]; then
  python - "$work" <<'PY'
import sys
from pathlib import Path
from studio.models.config import ModelCard
from studio.models.files import build_module, save_model
from studio.models.presets import tiny_base_config
save_model(Path(sys.argv[1]) / "tiny.safetensors", build_module(tiny_base_config()), tiny_base_config(), ModelCard(name="tiny"))
PY
  model="$work/tiny.safetensors"
fi
QT_QPA_PLATFORM=offscreen "$exe" generate --model "$model" --prompt "red apple" --steps 4 --out "$work/smoke.png"
test -s "$work/smoke.png"
echo "smoke test passed: $work/smoke.png"
