#!/usr/bin/env bash
# The whole training recipe on one CUDA GPU, prepared for a lent device machine (< 8 minutes):
#   GRIDSIGHT_DATA=../shared/data bash scripts/train_gpu.sh [python]
# 1. prepares the set (train / val / untouched test / retention) unless it is there;
# 2. fine-tunes from the COCO checkpoint at 640 px with mosaic (off for the last CLOSE_MOSAIC
#    epochs), fire-smoke, its ordinary scenes and garbage repeated as in the CPU stages, batch 64;
# 3. averages the last 3 epochs into a CANDIDATE (never over the shipped file);
# 4. chooses its operating points on val and prints the model card's tables for the shipped model
#    and the candidate (val and untouched test side by side): ship it only if no class's test
#    mAP50 is lower (then: cp the candidate to models/weights/, set imgsz 640 in the registry,
#    bench/operating_points.py --write, and paste the card's tables).
# Writes everything under $OUT (default var/train-gpu). Not run yet: no GPU was lent while it was written.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
OUT=${OUT:-var/train-gpu}
EPOCHS=${EPOCHS:-24}
CLOSE_MOSAIC=${CLOSE_MOSAIC:-4}
IMGSZ=${IMGSZ:-640}
BUDGET_S=${BUDGET_S:-330}   # the training step's wall-clock cap; the rest needs ~2 minutes
mkdir -p "$OUT"
export GRIDSIGHT_HOME=${GRIDSIGHT_HOME:-$PWD/var/gridsight-home}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__)"
SET=${PREPARED:-$HOME/.cache/gridsight/datasets/gridsight-issues}
[ -f "$SET/report.json" ] && ls "$SET"/test-*.yaml >/dev/null 2>&1 \
  || "$PY" -m gridsight.cli dataset prepare --out "$SET" 2>&1 | tail -5 | tee "$OUT/prepare.log"
RUN=$OUT/run
rm -rf "$RUN"
start=$(date +%s)
timeout "$BUDGET_S" "$PY" -m gridsight.cli train --data "$SET/data.yaml" --run-dir "$RUN" --device 0 \
  --imgsz "$IMGSZ" --epochs "$EPOCHS" --batch 64 --close-mosaic "$CLOSE_MOSAIC" \
  --repeat fire-smoke=3 --repeat fire-smoke-negatives=3 --repeat garbage=2 --repeat-class bus=8 \
  --save-period 1 --no-val 2>&1 | tail -20 | tee "$OUT/train.log" || echo "training stopped at the time cap"
echo "training: $(( $(date +%s) - start )) s" | tee -a "$OUT/train.log"
last=$(ls "$RUN"/weights/epoch*.pt | sort -V | tail -3)
"$PY" -m gridsight.cli ship-weights $last --out "$OUT/candidate.pt"
"$PY" bench/operating_points.py --model "$OUT/candidate.pt" --prepared "$SET" | tee "$OUT/operating_points.md"
"$PY" bench/model_card.py --prepared "$SET" | tee "$OUT/card-shipped.md"
"$PY" bench/model_card.py --model "$OUT/candidate.pt" --imgsz "$IMGSZ" --prepared "$SET" | tee "$OUT/card-candidate.md"
echo "total: $(( $(date +%s) - start )) s"
