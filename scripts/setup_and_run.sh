#!/usr/bin/env bash
# The main job: set everything up, then cluster the 20 CIFAR-10 sample photos by "object" (K=8, the
# number of classes among them) with the default models, and score the result against their labels.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/ictc run samples/cifar10 --criterion object -k 8 --labels samples/cifar10/labels.csv \
  --out runs/sample-object "$@"
