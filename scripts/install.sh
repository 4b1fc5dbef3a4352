#!/usr/bin/env bash
# Create .venv and install toolgen into it (editable). `scripts/install.sh test` adds the test tools.
#
# PyTorch comes first and pinned: sentence-transformers needs torch, and an unpinned `torch`
# pulls the CUDA build (several GB). torch==2.13.0 resolves to a CPU wheel on our machines;
# on other CPU-only machines point pip at PyTorch's CPU wheel index for this step.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
if [ "${1:-}" = "test" ]; then
  .venv/bin/python -m pip install --quiet -e ".[test]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
