"""A scripted camera for the loop tests: a still street view (a frame of vtest.avi) where a bus
(cut from Ultralytics' bus.jpg) can be parked in a fire lane, fed frame by frame to the pipeline
through :class:`PushedSource` (the test decides when footage happens)."""

from __future__ import annotations

import queue
from pathlib import Path

import cv2
import numpy as np

from pipeline.sources import Frame, Health

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LANE = [[20, 420], [400, 420], [400, 570], [20, 570]]  # fire lane, source pixels
T0 = 1_795_852_800.0  # 2026-11-28T08:00:00Z, footage time of the first frame


class Street:
    def __init__(self) -> None:
        import ultralytics

        bus = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
        crop = bus[229:734, 10:798]
        self.bus = cv2.resize(crop, (260, round(260 * crop.shape[0] / crop.shape[1])), interpolation=cv2.INTER_AREA)
        cap = cv2.VideoCapture(str(VTEST))
        ok, self.background = cap.read()
        cap.release()
        assert ok, "vtest.avi unreadable"

    def frame(self, bus: bool) -> np.ndarray:
        img = self.background.copy()
        if bus:  # bottom-centre at (190, 500): inside the lane
            x, y = 60, 500 - self.bus.shape[0]
            img[y:y + self.bus.shape[0], x:x + self.bus.shape[1]] = self.bus
        return img


class PushedSource:
    """Footage the test pushes: frames with footage times, ``end()`` when done."""

    live = False

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.health = Health(online=True)
        self._q: queue.Queue = queue.Queue()
        self.index = 0

    def push(self, image: np.ndarray, t: float) -> None:
        self._q.put(Frame(self.camera_id, image, t, self.index, t - T0))
        self.index += 1

    def end(self) -> None:
        self._q.put(None)

    def close(self) -> None:
        self.end()

    @property
    def backlog(self) -> int:
        return self._q.qsize()

    def __iter__(self):
        while True:
            frame = self._q.get()
            if frame is None:
                return
            self.health.frames += 1
            self.health.last_frame_time = frame.time
            yield frame
