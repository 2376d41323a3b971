#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py) from the repository root: installs .gpu-wheels/*.whl when present, runs every
# check, writes metrics.json + summary.txt under $OUT (else runs/gpu_check/). Exit 1 when a check failed.
#   bash bench/gpu_check.sh             # on the GPU machine (~8 minutes at most on one H100)
#   bash bench/gpu_check.sh --dry-run   # anywhere: CPU, tiny sizes, same code path
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" bench/gpu_check.py "$@"
