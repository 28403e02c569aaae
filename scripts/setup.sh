#!/usr/bin/env bash
# Idempotent set-up of .venv: system tools first, then torch (pinned CPU wheel), then the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
# The torch requirement and the package index it comes from. The default is the CPU wheel.
# For a CUDA build, give the index URL of the CUDA wheels that PyTorch's install selector
# names for your driver (e.g. its cu126 index): the same pin matches its "+cu126" builds.
TORCH=${TORCH:-torch==2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}

# musdb/museval/stempeg call the ffmpeg program for .stem.mp4 files.
if ! command -v ffmpeg >/dev/null 2>&1; then
    echo "setup: installing ffmpeg (apt)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip setuptools wheel >/dev/null
# torch first and pinned: a bare 'torch' resolved fresh pulls a multi-GB CUDA build.
if [ -n "$TORCH_INDEX_URL" ]; then
    $PIP install "$TORCH" --index-url "$TORCH_INDEX_URL"
else
    $PIP install "$TORCH"
fi
# nsgt 0.19 imports numpy in its setup.py, so it must be built without build isolation.
$PIP install numpy
$PIP install --no-build-isolation "nsgt==0.19"
$PIP install -e ".[dev,postgres]"
touch "$VENV/.installed"
echo "setup: $VENV ready" >&2
