"""`make run`'s script on a fresh machine: no Ultralytics settings yet, an empty GridSight home.

It must detect, start the API, turn the sample footage into tickets with evidence, and write
nothing of Ultralytics' outside GridSight's own config dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from gridsight.paths import REPO_ROOT
from tests.services import free_port


@pytest.mark.data
def test_make_run_script_on_a_fresh_home(tmp_path, shared_data):
    if not Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi").exists():
        pytest.skip("vtest.avi missing (Debian package opencv-doc)")
    home, run_dir, port = tmp_path / "home", tmp_path / "run", free_port()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "GRIDSIGHT_"))}
    env |= {"HOME": str(home), "GRIDSIGHT_DATA": str(shared_data), "GRIDSIGHT_HOME": str(tmp_path / "gs"),
            "GRIDSIGHT_RUN_DIR": str(run_dir), "GRIDSIGHT_API_PORT": str(port),
            "VENV": str(Path(os.environ.get("VIRTUAL_ENV") or REPO_ROOT / ".venv"))}
    try:
        run = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "run.sh")], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        frames = [json.loads(line) for line in (run_dir / "detections.jsonl").read_text().splitlines()]
        assert "bus" in {d["class_name"] for d in frames[0]["detections"]}  # bus.jpg, the shipped model
        assert "everything delivered" in run.stdout
        key = (run_dir / "operator.key").read_text().strip()
        items = httpx.get(f"http://127.0.0.1:{port}/api/v1/tickets", headers={"X-API-Key": key},
                          trust_env=False, timeout=10).json()["items"]
        assert items, "the sample footage made no ticket"
        assert all(t["evidence"] for t in items)
        assert not (home / ".config" / "Ultralytics").exists()  # ultralytics only ever saw GridSight's config dir
    finally:
        pid = run_dir / "api.pid"
        if pid.is_file():
            try:
                os.kill(int(pid.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
