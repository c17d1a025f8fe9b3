#!/usr/bin/env bash
# Prepare what the device run of benchmarks/promark/gpu_experiment.py carries (ignored paths under runs/):
#   runs/photos  every photo of ../shared/data/photos, long side 512 px (the script applies the hold-out rule)
#   runs/whl     the wheels the device's python3 (3.12, torch preinstalled) lacks: diffusers, bchlib, importlib_metadata
# Usage: bash benchmarks/promark/gpu_prepare.sh [PHOTOS_DIR]   (then see RESULTS.md, "GPU experiment")
set -euo pipefail
cd "$(dirname "$0")/../.."
photos=${1:-../shared/data/photos}
mkdir -p runs/photos runs/whl
.venv/bin/python - "$photos" <<'PY'
import sys
from pathlib import Path
from PIL import Image
for p in sorted(Path(sys.argv[1]).iterdir()):
    if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
        with Image.open(p) as im:
            im = im.convert("RGB")
            im.thumbnail((512, 512), Image.Resampling.LANCZOS)
            im.save(Path("runs/photos") / (p.stem + ".jpg"), quality=90)
PY
for pkg in diffusers==0.42.1 bchlib==2.1.3 importlib_metadata==10.2.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d runs/whl "$pkg"
done
du -sh runs/photos runs/whl
