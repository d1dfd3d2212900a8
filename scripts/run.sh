#!/usr/bin/env bash
# `make run` on the embedded defaults:
#   1. detection over bus.jpg and the sample footage (annotated frames + JSON lines in var/run/),
#   2. the ticket API in the background (SQLite and a local evidence folder under var/),
#   3. the stream pipeline over the sample footage with the demo cameras (configs/cameras.yaml):
#      incidents -> durable outbox -> tickets with annotated evidence,
# then prints where to look. The API keeps running; `kill $(cat var/run/api.pid)` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
GS="$VENV/bin/gridsight"
export GRIDSIGHT_DATA=${GRIDSIGHT_DATA:-$(cd .. && pwd)/shared/data}
OUT=${GRIDSIGHT_RUN_DIR:-var/run}  # detections, logs, keys and the API pid of this run
mkdir -p "$OUT"

# 1. detection output ---------------------------------------------------------------------
# (found without importing ultralytics: its first import on a fresh machine prints a settings notice)
BUS=$("$PY" -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('ultralytics').origin).parent / 'assets' / 'bus.jpg')")
inputs=("$BUS")
[ -f "$GRIDSIGHT_DATA/footage/car-detection.mp4" ] && inputs+=("$GRIDSIGHT_DATA/footage/car-detection.mp4")
"$GS" detect "${inputs[@]}" --json --save "$OUT/annotated" > "$OUT/detections.jsonl"
echo "run: detection: $(wc -l < "$OUT/detections.jsonl") frames -> $OUT/detections.jsonl, annotated images in $OUT/annotated/"

# 2. the ticket API ------------------------------------------------------------------------
if [ -z "${GRIDSIGHT_API_KEY:-}" ]; then  # the pipeline's ingest key: made once, kept in var/run/
  [ -s "$OUT/ingest.key" ] || (umask 077; "$PY" -c 'import secrets; print("gsk_" + secrets.token_urlsafe(32))' > "$OUT/ingest.key")
  GRIDSIGHT_API_KEY=$(cat "$OUT/ingest.key")
  export GRIDSIGHT_API_KEY
fi
HOST=${GRIDSIGHT_API_HOST:-127.0.0.1}
PORT=${GRIDSIGHT_API_PORT:-8000}
URL="http://$HOST:$PORT"
export GRIDSIGHT_API_URL=${GRIDSIGHT_API_URL:-$URL}
up() { "$PY" -c "import httpx, sys; sys.exit(httpx.get('$URL/healthz', timeout=1, trust_env=False).status_code != 200)" 2>/dev/null; }
if up; then
  echo "run: ticket API already running at $URL"
else
  nohup "$GS" api serve --host "$HOST" --port "$PORT" > "$OUT/api.log" 2>&1 &
  echo $! > "$OUT/api.pid"
  for _ in $(seq 1 120); do up && break; sleep 0.5; done
  up || { echo "run: the ticket API did not start; see $OUT/api.log" >&2; tail -20 "$OUT/api.log" >&2; exit 1; }
  echo "run: ticket API started at $URL (pid $(cat "$OUT/api.pid"), log $OUT/api.log)"
fi

# 3. the pipeline on the sample footage ------------------------------------------------------
# Footage time starts today 08:00 UTC: running again today finds the same incidents (same keys,
# no duplicate tickets); another day makes new ones.
cams=(--camera campus-east)
[ -f "$GRIDSIGHT_DATA/footage/car-detection.mp4" ] && cams+=(--camera lot-north)
"$GS" watch configs/cameras.yaml "${cams[@]}" --start-time "$(date -u +%Y-%m-%dT08:00:00Z)" --status 10

# where to look ----------------------------------------------------------------------------
key_ok() { [ -s "$OUT/operator.key" ] && "$PY" -c "import httpx, sys; sys.exit(httpx.get('$URL/api/v1/tickets', headers={'X-API-Key': open('$OUT/operator.key').read().strip()}, timeout=5, trust_env=False).status_code != 200)" 2>/dev/null; }
key_ok || (umask 077; "$GS" api create-key demo-operator --role operator --name "make run" > "$OUT/operator.key")
EVIDENCE=$("$PY" -c "from gridsight.settings import get_settings; print(get_settings().evidence_dir)")
cat <<MSG

Look at the tickets:
  docs UI:   $URL/docs   (Authorize with the operator key in $OUT/operator.key)
  list:      $PY -c "import httpx; print(httpx.get('$URL/api/v1/tickets', headers={'X-API-Key': open('$OUT/operator.key').read().strip()}, trust_env=False).json())"
  evidence:  $EVIDENCE/ (annotated and raw JPEGs of each ticket; object store when GRIDSIGHT_S3_ENDPOINT is set)
Stop the API: kill \$(cat $OUT/api.pid)
MSG
