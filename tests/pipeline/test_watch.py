"""``gridsight watch`` on a live camera (a real loopback MJPEG server) that drops off the
network and comes back: status lines show it online, offline, reconnected; Ctrl-C ends it
cleanly with a summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from gridsight.paths import REPO_ROOT
from tests.pipeline.mjpeg_server import MJPEGCamera


@pytest.mark.data
def test_watch_live_camera_through_an_outage(tmp_path, shared_data):
    cam = MJPEGCamera(fps=10).start()
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml.safe_dump({"cameras": [{
        "id": "live-1", "url": cam.url, "detect_fps": 2,
        "zones": [{"id": "bay", "kind": "no_parking", "normalized": True,
                   "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}]}]}))
    env = dict(os.environ, GRIDSIGHT_HOME=str(tmp_path / "home"), GRIDSIGHT_DATA=str(shared_data),
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "gridsight.cli", "watch", str(config), "--no-deliver",
                             "--status", "0.5", "--duration", "120"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()

    def seen(pred, timeout=60.0) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for ln in list(lines):
                if ln.startswith("live-1") and pred(ln):
                    return ln
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("status line not seen; output:\n" + "".join(lines[-30:]))

    try:
        seen(lambda ln: " online " in ln and "detected 0 " not in ln)
        cam.stop()
        seen(lambda ln: "OFFLINE" in ln)
        n = len(lines)
        cam.start()
        line = seen(lambda ln: " online " in ln and "reconnects 1" in ln and lines.index(ln) >= n)
        assert "in " in line and "dropped" in line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        out = "".join(lines)
        assert "incidents: 0 opened" in out
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
        cam.stop()
