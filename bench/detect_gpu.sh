#!/usr/bin/env bash
# GPU benchmark, prepared as one script for a lent device machine (finishes in < 8 minutes):
#   bash bench/detect_gpu.sh [python]
# Uses the project's .venv when it is there, else the given/system python (which must have the
# pinned torch with CUDA, ultralytics and opencv installed; the device machine has no network).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch, ultralytics, cv2; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
  || { echo "detect_gpu: $PY lacks torch/ultralytics/opencv; run scripts/setup.sh first" >&2; exit 1; }
export GRIDSIGHT_HOME=${GRIDSIGHT_HOME:-$(mktemp -d)}
timeout 450 "$PY" bench/detect_gpu.py --seconds "${SECONDS_PER_ROW:-12}" | tee "${OUT:-.}/detect_gpu.md"
