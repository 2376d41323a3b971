#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py) from the repository root: installs .gpu-wheels/*.whl when present, runs every
# check, writes metrics.json + summary.txt (and, under $OUT, gpu_check.log) to $OUT, else runs/gpu_check/.
# Exits 1 when a check failed.
#   bash bench/gpu_check.sh             # on the GPU machine (within 8 minutes on one H100)
#   bash bench/gpu_check.sh --dry-run   # anywhere: CPU, tiny sizes, same code path
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  "${PYTHON:-python3}" bench/gpu_check.py "$@" 2>&1 | tee "$OUT/gpu_check.log"
  exit "${PIPESTATUS[0]}"
fi
exec "${PYTHON:-python3}" bench/gpu_check.py "$@"
