"""``gridsight reprocess`` (distributed and --local) and its errors, as a user runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from gridsight.paths import CONFIGS_DIR, REPO_ROOT
from tests.jobs.conftest import DETECTOR
from tests.jobs.scene import CAMERA


def gridsight(env, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "gridsight.cli", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_reprocess_follows_a_job_and_runs_locally(job_env, clip, workers, ticket_api, tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS_DIR, configs)
    (configs / "cameras.yaml").write_text(yaml.safe_dump(
        {"cameras": [{"id": "cam-scene", "url": str(clip), **CAMERA}]}))
    env = dict(job_env, GRIDSIGHT_CONFIGS=str(configs))
    workers.env = env
    workers.start()
    done = gridsight(env, "reprocess", str(clip), "--camera", "cam-scene", "--start-time",
                     "2026-05-01T08:00:00+08:00", "--segment-s", "50", "--warmup-s", "80")
    assert done.returncode == 0, done.stderr
    assert "done: 1500 frames" in done.stdout and "2 incidents" in done.stdout
    job_id = done.stdout.split()[1]
    assert len(ticket_api.tickets(job_id)) == 2
    local = gridsight(env, "reprocess", str(clip), "--camera", "cam-scene", "--start-time",
                      "2026-05-02T08:00:00+08:00", "--local", "--detector", DETECTOR)
    assert local.returncode == 0, local.stderr
    assert "1500 frames" in local.stdout and "2 incidents" in local.stdout
    with_local = {t["dedup_key"].rsplit(":", 1)[0] for t in ticket_api.tickets() if t["job_id"].startswith("local-")}
    assert with_local == {"cam-scene:fire_lane_blocked:lane-1", "cam-scene:illegal_parking:bay-1"}


def test_reprocess_errors_are_one_line(job_env, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"junk" * 100)
    for args, says in ((["/no/such.mp4", "--camera", "campus-east", "--local"], "no such file"),
                       ([str(bad), "--camera", "campus-east", "--local"], "not a readable video"),
                       ([str(bad), "--camera", "campus-east", "--start-time", "yesterday"], "not ISO 8601"),
                       ([str(bad), "--camera", "campus-east", "--start-time", "2026-05-01T08:00:00"], "timezone")):
        r = gridsight(job_env, "reprocess", *args)
        assert r.returncode == 2, r
        assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
