#!/usr/bin/env bash
# `make run`: detection over the sample footage and bus.jpg on the embedded defaults;
# annotated frames and one JSON line per frame land in var/run/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DATA=${GRIDSIGHT_DATA:-../shared/data}
OUT=var/run
mkdir -p "$OUT"
BUS=$("$VENV/bin/python" -c "import ultralytics, pathlib; print(pathlib.Path(ultralytics.__file__).parent / 'assets' / 'bus.jpg')")
inputs=("$BUS")
[ -f "$DATA/footage/car-detection.mp4" ] && inputs+=("$DATA/footage/car-detection.mp4")
"$VENV/bin/gridsight" detect "${inputs[@]}" --json --save "$OUT/annotated" > "$OUT/detections.jsonl"
echo "run: $(wc -l < "$OUT/detections.jsonl") frames -> $OUT/detections.jsonl, annotated images in $OUT/annotated/"
