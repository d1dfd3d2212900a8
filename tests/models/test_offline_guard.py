"""Offline by construction: the whole model workflow runs with every non-loopback socket refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "offline"


def guarded_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "GRIDSIGHT_"))}
    env.update(PYTHONPATH=os.pathsep.join([str(HERE), str(Path.cwd())]),
               GRIDSIGHT_GUARD_LOG=str(tmp_path / "violations.jsonl"),
               GRIDSIGHT_HOME=str(tmp_path / "home"),
               GRIDSIGHT_DATA=str(tmp_path / "no-shared-data"),  # nothing from ../shared either
               HOME=str(tmp_path / "userhome"))  # fresh ~: no settings or telemetry consent from before
    return env


def run_guarded(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=guarded_env(tmp_path), capture_output=True, text=True,
                          timeout=600, cwd=Path(__file__).resolve().parents[2])


def violations(tmp_path: Path) -> list[dict]:
    log = tmp_path / "violations.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_guard_refuses_non_loopback_and_records_it(tmp_path):
    # Closed sockets and a numeric-only lookup: the hook sees each call first, and were the guard broken
    # the call would fail locally (bad file descriptor) -- no packet or DNS query can ever leave.
    code = ("import socket\n"
            "def closed(kind=socket.SOCK_STREAM):\n    s = socket.socket(type=kind); s.close(); return s\n"
            "for call in (lambda: closed().connect(('203.0.113.7', 53)),\n"
            "             lambda: closed(socket.SOCK_DGRAM).sendto(b'x', ('203.0.113.8', 53)),\n"
            "             lambda: socket.getaddrinfo('203.0.113.9', 443, flags=socket.AI_NUMERICHOST)):\n"
            "    try:\n        call()\n    except RuntimeError as e:\n        print(e)\n"
            "    except OSError as e:\n        print('NOT BLOCKED', e)\n"
            "socket.getaddrinfo('localhost', 80)\n")
    out = run_guarded(tmp_path, code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("blocked by the offline test guard") == 3
    assert [(v["event"], v["host"]) for v in violations(tmp_path)] == [
        ("socket.connect", "203.0.113.7"), ("socket.sendto", "203.0.113.8"), ("socket.getaddrinfo", "203.0.113.9")]


@pytest.mark.slow
def test_import_predict_track_train_export_stay_offline(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    out = run_guarded(tmp_path, f"import runpy, sys; sys.argv = ['w', {str(work)!r}]; "
                                f"runpy.run_path({str(HERE / 'workload.py')!r}, run_name='__main__')")
    assert out.returncode == 0, out.stderr[-3000:]
    done = json.loads(out.stdout.strip().splitlines()[-1])
    # the guard itself was live in this process: both deliberate attempts were refused
    assert done.pop("guard_connect") == "NetworkGuardViolation"
    assert done.pop("guard_dns") == "NetworkGuardViolation"
    assert done.pop("loopback") != "NetworkGuardViolation"
    assert done == {"train": True, "predict": 1, "track": 3, "onnx": True, "openvino": True, "openvino_int8": True,
                    "detector": "openvino"}
    # nothing else in the workflow tried the network (the two deliberate attempts are the only records)
    others = [v for v in violations(tmp_path) if v["host"] not in ("203.0.113.7", "203.0.113.9")]
    assert others == [], others
