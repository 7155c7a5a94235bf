#!/usr/bin/env bash
# Sets up (if needed) and runs the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache > /tmp/ictc-layers.txt || { cat /tmp/ictc-layers.txt; exit 1; }  # layers (.importlinter)
exec .venv/bin/python -m pytest "$@"
