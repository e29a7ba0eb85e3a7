#!/usr/bin/env bash
# mergekit 0.1.5 in a venv of its own (.venv-mergekit): the peer that `build upscale` and
# `build merge` are checked against tensor for tensor (tests/build, MERGEKIT_PYTHON). It
# pins versions haechi need not share, so it stays out of the main venv. Prints the
# interpreter's path.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${MERGEKIT_VENV:-.venv-mergekit}
if [ ! -f "$VENV/.installed" ]; then
    "$PYTHON" -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --upgrade pip >&2
    # the CPU build of torch first (an unpinned torch would pull the CUDA one)
    "$VENV/bin/pip" install --quiet "torch==2.13.0" "mergekit==0.1.5" >&2
    touch "$VENV/.installed"
fi
echo "$PWD/$VENV/bin/python"
