#!/usr/bin/env bash
# Set up provmark from a fresh clone: Debian tools, a virtual environment at .venv,
# and the package with its pinned dependencies. Safe to run again (it only adds what is missing).
# Usage: bash scripts/setup.sh [--bench]   (--bench also installs the benchmark baselines)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v exiftool >/dev/null 2>&1; then
  echo "setup: installing exiftool (Debian libimage-exiftool-perl)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libimage-exiftool-perl >/dev/null
fi

# The browser tests drive Debian's chromium (Playwright never downloads a browser here).
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian) for the browser tests" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install -qq --disable-pip-version-check -c constraints.txt)

"${PIP[@]}" -e ".[test,serve,ray]"
if [ "${1:-}" = "--bench" ]; then
  # invisible-watermark pins an unconstrained torch and opencv-python: install it without deps.
  "${PIP[@]}" opencv-python-headless PyWavelets onnxruntime onnx
  "${PIP[@]}" --no-deps invisible-watermark==0.2.0
fi
