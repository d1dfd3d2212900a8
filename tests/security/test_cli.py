"""The CLI says so when it read nothing, and does not guess a time zone (issue 15, item 9)."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np


def gridsight(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gridsight.cli", *args], capture_output=True, text=True,
                          env={**os.environ}, cwd=cwd, timeout=300)


def _video(path, frames: int = 60) -> None:
    """An MJPG AVI (its frames readable without the index at the end, so a cut file still opens)."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        out.write(np.full((48, 64, 3), i * 4 % 255, np.uint8))
    out.release()


def test_detect_on_an_empty_folder_is_an_error(tmp_path):
    run = gridsight("detect", str(tmp_path))
    assert run.returncode != 0 and "no images or videos" in run.stderr, (run.returncode, run.stderr)


def test_detect_warns_about_a_truncated_video(tmp_path, shared_data):
    video = tmp_path / "cut.avi"
    _video(video)
    data = video.read_bytes()
    video.write_bytes(data[:len(data) // 3])  # opens, says 60 frames, holds 5
    run = gridsight("detect", str(video), "--no-progress")
    assert "cut.avi: warning: read 5 of 60 frames" in run.stderr, (run.returncode, run.stdout, run.stderr)


def test_a_start_time_without_offset_is_refused(tmp_path):
    video = tmp_path / "clip.avi"
    _video(video, 5)
    run = gridsight("process", str(video), "--camera", "campus-east", "--start-time", "2026-07-29T08:00:00",
                    "--no-deliver")
    assert run.returncode == 2 and "offset" in run.stderr, (run.returncode, run.stderr)
