#!/usr/bin/env bash
# Upgrade the lock on purpose: resolve the newest versions that pyproject.toml's ranges allow in a
# throwaway venv, write them to requirements.lock, then reinstall .venv from the new lock and run
# the tests. Commit requirements.lock only if the tests pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --upgrade pip setuptools
# torch first and pinned, as in install.sh (plain `torch` would pull the CUDA build)
"$scratch/venv/bin/python" -m pip install --quiet "torch==2.13.0"
"$scratch/venv/bin/python" -m pip install --quiet -e ".[test]"
{
  echo "# toolgen's lock: the exact versions of everything CI installs and tests."
  echo "# scripts/install.sh installs from it; scripts/relock.sh regenerates it. Do not edit by hand."
  echo "# Generated $(date -u +%Y-%m-%d) with Python $("$scratch/venv/bin/python" -c 'import platform; print(platform.python_version())')."
  # --all keeps pip and setuptools; a local label (torch's +cpu) is dropped so the pin also
  # matches the same release from another index.
  "$scratch/venv/bin/python" -m pip freeze --all --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/' | sort -f
} > requirements.lock
echo "requirements.lock written; reinstalling .venv from it and running the tests" >&2
rm -rf .venv
bash scripts/install.sh test
.venv/bin/python -m pytest -q
