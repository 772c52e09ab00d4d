#!/usr/bin/env bash
# GPU check on one GPU, no network, under 10 minutes: our torch engine and policy update (tokens/s, peak memory),
# then the real `rlvr train --backend trl` for 2 rollouts in bf16 with evaluation, saves and a resume, on a
# config-built model; exits 1 naming every threshold missed (scripts/gpu_check.py). Needs PyTorch, transformers,
# accelerate; PYTHON=/path/to/python picks the interpreter (default python3).
# TRL (and datasets, which TRL imports) are installed from wheels in .whl/ when missing, with no network:
#   on a machine with network and the GPU machine's Python version:  pip download -d .whl trl==1.16.0
#   (or just the wheels the GPU machine lacks: pip download -d .whl --no-deps trl==1.16.0 datasets==5.2.0 ...)
# Usage: scripts/gpu_check.sh [--cpu]     (--cpu: a small smoke run of the same code on the CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import trl, datasets" 2>/dev/null; then
  if compgen -G ".whl/*.whl" >/dev/null; then
    echo "installing TRL from .whl/ (no index)" >&2
    "$PYTHON" -m pip install -q --no-index --find-links .whl trl || echo "TRL install from .whl/ failed: its part is skipped" >&2
  else
    echo "no TRL and no .whl/: the TRL part is skipped" >&2
  fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" scripts/gpu_check.py "$@"
