#!/usr/bin/env bash
# Everything `make run` and `make test` need on a fresh machine, installed only when missing:
# Debian packages (fonts for labels, Swift for the S3 tests, Chromium for the docs-UI test,
# opencv-doc for the sample footage, GStreamer's RTSP server for the RTSP camera test) and the
# virtualenv with the pinned requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

DEBS=(fonts-dejavu-core fonts-wqy-microhei opencv-doc memcached swift swift-proxy swift-object
      swift-container swift-account chromium
      python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
stamp="$VENV/.gridsight-$want"
if [ ! -f "$stamp" ]; then
  echo "setup: building $VENV (pinned requirements; torch comes from this machine's local wheels)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.lock 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/python" -c "import gridsight, torch, torchvision, ultralytics, openvino, onnxruntime, fastapi" \
    || { echo "setup: the virtualenv does not import; see the pip output above" >&2; exit 1; }
  rm -f "$VENV"/.gridsight-*
  touch "$stamp"
fi
