"""One detector per device, fed by every camera: frames are batched across cameras.

Cameras :meth:`submit` frames and get a :class:`~concurrent.futures.Future` for their
:class:`~models.detections.Detections`. A single thread owns the detector (a Detector belongs
to one thread): it takes the first waiting frame, collects more for at most ``max_wait_s`` or
until a batch is full, runs them as one batch and resolves the futures. Decoding (camera
threads), inference (this thread) and post-processing (camera threads) overlap; OpenCV and the
runtimes release the GIL. A batch the detector fails on is retried frame by frame, so one bad
frame costs only its own detections; a frame that fails alone gets the exception in its future.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

log = logging.getLogger("gridsight.pipeline.scheduler")


class BatchScheduler:
    def __init__(self, detector, *, max_wait_s: float = 0.01, batch: int | None = None,
                 conf: float | None = None) -> None:
        self.detector = detector
        self._kw = {} if conf is None else {"conf": conf}  # a lower threshold than the detector's (privacy blur)
        self.batch = int(batch or getattr(detector, "batch", 1) or 1)
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.batches = 0
        self.frames = 0
        self.busy_s = 0.0
        self.failed = 0  # frames whose detection failed (their futures raise)
        self._thread = threading.Thread(target=self._run, name="detector", daemon=True)
        self._thread.start()

    def submit(self, image: np.ndarray) -> Future:
        fut: Future = Future()
        self._queue.put((image, fut))
        return fut

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _collect(self) -> list:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        items = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(items) < self.batch:
            try:
                items.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                items.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return items

    def _run(self) -> None:
        while not self._stop.is_set() or not self._queue.empty():
            items = self._collect()
            if not items:
                continue
            t0 = time.perf_counter()
            try:
                results = self.detector.detect([im for im, _ in items], **self._kw)
            except Exception:  # one bad batch must not stop every camera: each frame is tried once more alone
                log.warning("detector failed on a batch; retrying its %d frames one by one", len(items), exc_info=True)
                self._one_by_one(items)
                continue
            self.busy_s += time.perf_counter() - t0
            self.batches += 1
            self.frames += len(items)
            for (_, fut), dets in zip(items, results):
                fut.set_result(dets)

    def _one_by_one(self, items: list) -> None:
        for image, fut in items:
            try:
                dets = self.detector.detect([image], **self._kw)[0]
            except Exception as exc:
                log.error("detector failed", exc_info=True)
                self.failed += 1
                fut.set_exception(exc)
            else:
                self.frames += 1
                fut.set_result(dets)
