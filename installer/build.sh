#!/usr/bin/env bash
# Build the stand-alone folder dist/diffusion-studio/ with PyInstaller.
# Needs the project's runtime dependencies installed (pip install -e .); installs PyInstaller itself.
# Usage: bash installer/build.sh          → dist/diffusion-studio/diffusion-studio
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet "pyinstaller>=6"
python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller installer/studio.spec
# a desktop entry and icon beside the executable, for `install-desktop.sh`-style copying
cp installer/diffusion-studio.desktop installer/icon.png dist/diffusion-studio/
echo "built: dist/diffusion-studio/diffusion-studio"
