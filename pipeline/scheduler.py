"""One detector per device, fed by every camera: frames are batched across cameras.

Cameras :meth:`submit` frames and get a :class:`~concurrent.futures.Future` for their
:class:`~models.detections.Detections`. A single thread owns the detector (a Detector belongs
to one thread). Two ways to feed it, by what the detector says it is best at:

* **batches** (GPU runtimes): take the first waiting frame, collect more for at most
  ``max_wait_s`` or until a batch is full, run them as one batch and resolve the futures. A batch
  the detector fails on is retried frame by frame, so one bad frame costs only its own detections.
* **a stream** (``detector.streams``: OpenVINO on a CPU, whose parallel requests each take one
  frame): every frame is begun as soon as it arrives, up to ``detector.in_flight`` in flight, and
  the oldest is finished when the limit is reached or no frame waits. The runtime never waits for a
  batch to fill or for its slowest frame to end (with batches, 1.6 of 2 cores were busy; streaming,
  1.9).

Decoding (camera threads), inference (this thread and the runtime's) and post-processing (camera
threads) overlap; OpenCV and the runtimes release the GIL. A frame that fails gets the exception in
its future.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
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
        self.cpu_s = 0.0  # this thread's CPU time in detect (letterbox, NMS; the runtime's own threads not counted)
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
        if getattr(self.detector, "streams", False):
            self._stream()
            return
        while not self._stop.is_set() or not self._queue.empty():
            items = self._collect()
            if not items:
                continue
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                results = self.detector.detect([im for im, _ in items], **self._kw)
            except Exception:  # one bad batch must not stop every camera: each frame is tried once more alone
                log.warning("detector failed on a batch; retrying its %d frames one by one", len(items), exc_info=True)
                self._one_by_one(items)
                continue
            self.busy_s += time.perf_counter() - t0
            self.cpu_s += time.thread_time() - c0
            self.batches += 1
            self.frames += len(items)
            for (_, fut), dets in zip(items, results):
                fut.set_result(dets)

    def _stream(self) -> None:
        det, open_ = self.detector, deque()  # (ticket, future) in the order begun
        limit = max(1, int(getattr(det, "in_flight", 1)))
        busy_since = 0.0
        while not self._stop.is_set() or not self._queue.empty() or open_:
            try:
                item = self._queue.get_nowait() if open_ else self._queue.get(timeout=0.2)
            except queue.Empty:
                item = None
            if item is None or len(open_) >= limit:
                if open_:
                    self._finish(*open_.popleft())
                    if not open_:
                        self.busy_s += time.perf_counter() - busy_since
                if item is None:
                    continue
            image, fut = item
            c0 = time.thread_time()
            try:
                ticket = det.begin([image], **self._kw)
            except Exception as exc:
                self._failed(fut, exc)
                continue
            finally:
                self.cpu_s += time.thread_time() - c0
            if not open_:
                busy_since = time.perf_counter()
            open_.append((ticket, fut))

    def _finish(self, ticket, fut: Future) -> None:
        c0 = time.thread_time()
        try:
            dets = self.detector.finish(ticket)[0]
        except Exception as exc:
            self._failed(fut, exc)
        else:
            self.batches += 1
            self.frames += 1
            fut.set_result(dets)
        finally:
            self.cpu_s += time.thread_time() - c0

    def _failed(self, fut: Future, exc: Exception) -> None:
        log.error("detector failed on a frame", exc_info=exc)
        self.failed += 1
        fut.set_exception(exc)

    def _one_by_one(self, items: list) -> None:
        for image, fut in items:
            try:
                dets = self.detector.detect([image], **self._kw)[0]
            except Exception as exc:
                self._failed(fut, exc)
            else:
                self.frames += 1
                fut.set_result(dets)
