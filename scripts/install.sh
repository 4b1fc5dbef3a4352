#!/usr/bin/env bash
# Create .venv and install toolgen into it (editable), every dependency at the version in
# requirements.lock, so a fresh machine gets exactly what CI tested. `scripts/install.sh test`
# adds the test tools. To upgrade dependencies on purpose, run scripts/relock.sh.
#
# PyTorch comes first: sentence-transformers needs torch, and an unpinned `torch` pulls the CUDA
# build (several GB). torch==2.13.0 (the lock's pin) resolves to a CPU wheel on our machines; on
# other CPU-only machines point pip at PyTorch's CPU wheel index for this step.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements.lock
python3 -m venv .venv
.venv/bin/python -m pip install --quiet -c "$lock" pip setuptools
.venv/bin/python -m pip install --quiet -c "$lock" torch
if [ "${1:-}" = "test" ]; then
  .venv/bin/python -m pip install --quiet -c "$lock" -e ".[test]"
else
  .venv/bin/python -m pip install --quiet -c "$lock" -e .
fi
