#!/usr/bin/env bash
# The one-shot GPU check (see benchmarks/gpu_check.py): full sizes on CUDA, a tiny CPU form elsewhere.
#   bash benchmarks/gpu_check.sh [--cpu] [--batches 1 16] [--repeats 3] [--threads N]
# Uses the project's .venv when there is one, else $PYTHON or python3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
exec "$python" "$root/benchmarks/gpu_check.py" "$@"
