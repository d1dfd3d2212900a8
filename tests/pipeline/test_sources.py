"""Frame sources: files in order with footage time; real loopback cameras (MJPEG over HTTP, and
H.264 over RTSP from GStreamer's RTSP server) that drop off the network and come back
(reconnect, health, dropped frames)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.sources import FileSource, LiveSource, open_source
from tests.pipeline.mjpeg_server import MJPEGCamera
from tests.services import free_port


def write_clip(path, n=50, fps=10.0):
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    for i in range(n):
        img = np.zeros((120, 160, 3), np.uint8)
        img[:, :] = (i * 5) % 255  # frame number encoded in the brightness
        out.write(img)
    out.release()


def test_video_file_every_sampled_frame_in_order_with_footage_time(tmp_path):
    clip = tmp_path / "c.avi"
    write_clip(clip, n=50, fps=10)
    src = FileSource(clip, "cam", sample_fps=2, start_time=1000.0)
    frames = list(src)
    assert [f.index for f in frames] == list(range(0, 50, 5))
    assert [f.time for f in frames] == pytest.approx([1000.0 + i * 0.5 for i in range(10)])
    assert [int(round(f.image.mean() / 5)) for f in frames] == list(range(0, 50, 5))
    assert src.expected_samples == 10
    # a rate above the file's gives every frame, never more
    assert len(list(FileSource(clip, "cam", sample_fps=25, start_time=0))) == 50


def test_image_folder_and_single_image(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.jpg"), np.full((40, 60, 3), i * 60, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    frames = list(open_source(str(tmp_path), "cam", sample_fps=1, start_time=50))
    assert [f.time for f in frames] == [50, 51, 52]
    one = list(open_source(str(tmp_path / "001.jpg"), "cam", start_time=7))
    assert len(one) == 1 and one[0].time == 7 and one[0].image.shape == (40, 60, 3)
    with pytest.raises(FileNotFoundError):
        open_source(str(tmp_path / "missing.mp4"), "cam")


def wait_for(cond, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def assert_outage_then_reconnect(src: LiveSource, cam, last_index: int, offline_s: float, back_s: float) -> None:
    """The camera drops off the network: the source goes offline and counts no frames; the camera
    comes back on the same address: the reader reconnects by itself and frames flow on."""
    cam.stop()
    assert wait_for(lambda: not src.health.online, offline_s)
    assert src.read(timeout=0.5) is None or not src.health.online
    before = src.health.frames
    time.sleep(1.0)
    assert src.health.frames == before
    cam.start()
    assert wait_for(lambda: src.health.online and src.health.frames > before + 5, back_s)
    assert src.health.reconnects >= 1
    again = src.read(timeout=5)
    assert again is not None and again.index > last_index


def test_live_mjpeg_newest_frame_reconnect_and_health():
    cam = MJPEGCamera(fps=25).start()
    src = LiveSource(cam.url, "live", backoff_s=(0.2, 1.0), read_timeout_s=2).start()
    try:
        first = src.read(timeout=10)
        assert first is not None and first.image.shape == (240, 320, 3)
        assert src.health.online
        assert abs(first.time - time.time()) < 2  # live footage time is the wall clock
        # a slow consumer: the reader keeps only the newest frame and counts the rest as dropped
        time.sleep(1.0)
        newest = src.read(timeout=1)
        assert newest.index > first.index + 5
        assert src.health.dropped >= newest.index - first.index - 2
        assert 10 < src.health.fps < 40
        assert_outage_then_reconnect(src, cam, newest.index, offline_s=10, back_s=20)
    finally:
        src.close()
        cam.stop()


RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")


class RTSPCamera:
    """tests/pipeline/rtsp_server.py in its own process (Debian's Python has GStreamer's bindings)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> "RTSPCamera":
        self.proc = subprocess.Popen(["/usr/bin/python3", str(RTSP_SERVER), str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise RuntimeError(f"RTSP server did not start: {line} {self.proc.stderr.read()[-500:]}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def rtsp_server_available() -> bool:
    probe = subprocess.run(["/usr/bin/python3", "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                            "from gi.repository import GstRtspServer, Gst; Gst.init(None); "
                            "assert Gst.ElementFactory.find('x264enc')"], capture_output=True)
    return probe.returncode == 0


def test_live_rtsp_h264_camera_frames_outage_and_reconnect():
    """A CCTV-like stream: H.264 over RTSP from a real server; it goes down and comes back."""
    if not Path("/usr/bin/python3").exists() or not rtsp_server_available():
        pytest.skip("GStreamer RTSP server missing (scripts/setup.sh installs gir1.2-gst-rtsp-server-1.0, "
                    "python3-gi, gstreamer1.0-plugins-good/-ugly)")
    cam = RTSPCamera().start()
    src = open_source(cam.url, "gate")
    assert isinstance(src, LiveSource)
    src.backoff_min, src.backoff_max = 0.2, 1.0
    try:
        first = src.read(timeout=20)
        assert first is not None and first.image.shape == (240, 320, 3)
        assert src.health.online and abs(first.time - time.time()) < 2
        assert wait_for(lambda: 8 < src.health.fps < 25, 10)  # the server sends 15 frames/s
        assert_outage_then_reconnect(src, cam, first.index, offline_s=20, back_s=30)
    finally:
        src.close()
        cam.stop()
