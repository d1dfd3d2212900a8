"""A GridSight worker process: archive segments from the Celery queue, live cameras by lease.

``gridsight worker --concurrency N --device cuda:0`` runs a Celery worker on the ``gridsight``
queue. One process (``--concurrency 1``, the solo pool) runs one segment at a time with one
detector; ``N > 1`` forks N processes (prefork pool), each loading its own detector after the
fork. With ``--cameras FILE --capacity K`` it also watches up to K live cameras of that file,
claimed through leases (:mod:`.leases`) and run by the pipeline's
:class:`~pipeline.runtime.Pipeline` (one detector, batched across the cameras, durable outbox).
Every claim and release is appended to ``gs:watchlog`` (operations, and the failover tests).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

log = logging.getLogger("gridsight.worker")
WATCHLOG = "gs:watchlog"


class LeasedSource:
    """A camera source fenced by its lease: no frame goes on after the lease's local deadline.

    The lease keeper stops a camera when its deadline passes, but a keeper thread starved of CPU
    could do so late; this check sits in the data path itself, so even then the camera is not
    processed past the deadline (after which another worker may hold the lease)."""

    def __init__(self, source, deadline, on_expired) -> None:
        self.source, self.deadline, self.on_expired = source, deadline, on_expired
        self.live = source.live

    def __iter__(self):
        for frame in self.source:
            if time.monotonic() >= self.deadline():
                self.on_expired()
                return
            yield frame

    def close(self) -> None:
        self.source.close()

    def __getattr__(self, name):  # health and the rest of the source's interface
        return getattr(self.source, name)


class LiveCameras:
    """Starts and stops the pipeline's processing of leased cameras in this process."""

    keeper = None  # the LeaseKeeper whose deadlines fence the cameras (set by run_worker)

    def __init__(self, cameras_file: str, worker_id: str, detector_spec: str | None, device: str, r,
                 verify: bool = True) -> None:
        from gridsight.issues import load_cameras

        self.cameras = {c.id: c for c in load_cameras(cameras_file)}
        self.worker_id, self.detector_spec, self.device, self.r = worker_id, detector_spec, device, r
        self.pipeline = None
        self.verify = verify  # the held cameras verify fixes, as in `gridsight watch` (pipeline/verify.py)
        self.verifier = None
        self.running: dict[str, object] = {}
        self.pending: dict[str, threading.Event] = {}  # cameras being opened -> cancel flag
        self.lock = threading.RLock()

    def ids(self) -> list[str]:
        return list(self.cameras)

    def prepare(self):
        """The pipeline (detector loaded), made once, before any camera is claimed."""
        if self.pipeline is None:
            from pipeline.distributed.segment import load_job_detector
            from pipeline.runtime import Pipeline, PipelineOptions

            det = load_job_detector(self.detector_spec, self.device)
            self.pipeline = Pipeline(PipelineOptions(detector=det))
        return self.pipeline

    def _log(self, camera_id: str, event: str) -> None:
        entry = json.dumps({"camera": camera_id, "worker": self.worker_id, "event": event, "time": time.time()})
        pipe = self.r.pipeline()
        pipe.rpush(WATCHLOG, entry)
        pipe.ltrim(WATCHLOG, -10000, -1)
        pipe.execute()

    def start(self, camera_id: str) -> None:
        """Open the camera in the background: the lease keeper must keep renewing meanwhile."""
        cancelled = threading.Event()
        with self.lock:
            self.pending[camera_id] = cancelled
        threading.Thread(target=self._start, args=(camera_id, cancelled), name=f"open-{camera_id}",
                         daemon=True).start()

    def _start(self, camera_id: str, cancelled: threading.Event) -> None:
        from pipeline.sources import open_source

        cam = self.cameras[camera_id]
        source = open_source(cam.url, cam.id, sample_fps=cam.detect_fps, start_time=time.time())
        keeper = self.keeper
        if keeper is not None:
            source = LeasedSource(source, lambda: keeper.held.get(camera_id, 0.0),
                                  lambda: keeper.drop(camera_id, "lease deadline reached in the data path"))
        with self.lock:
            if cancelled.is_set():  # the lease went while the camera was opening
                source.close()
                return
            self.pending.pop(camera_id, None)
            self._log(camera_id, "start")
            proc = self.running[camera_id] = self.prepare().add_camera(cam, source)
            if self.verify:
                if self.verifier is None:
                    from pipeline.verify import start_verifier

                    self.verifier = start_verifier([])
                self.verifier.attach(proc)

    def stop(self, camera_id: str) -> None:
        with self.lock:
            cancelled = self.pending.pop(camera_id, None)
            if cancelled is not None:
                cancelled.set()
            proc = self.running.pop(camera_id, None)
            if proc is not None:
                if self.verifier is not None:
                    self.verifier.detach(camera_id)
                proc.stop()
                self._log(camera_id, "stop")

    def close(self) -> None:
        for cam in list(self.running):
            self.stop(cam)
        if self.verifier is not None:
            self.verifier.stop()
        if self.pipeline is not None:
            self.pipeline.close(drain_s=5)


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def run_worker(concurrency: int = 1, device: str = "auto", detector: str | None = None,
               cameras_file: str | None = None, capacity: int = 0, lease_ttl_s: float = 15.0,
               queues: str = "gridsight", loglevel: str = "INFO", verify: bool = True) -> int:
    os.environ["GRIDSIGHT_WORKER_DEVICE"] = device
    if detector:
        os.environ["GRIDSIGHT_WORKER_DETECTOR"] = detector
    from pipeline.distributed.app import app
    from gridsight.jobs import connect
    from pipeline.distributed.leases import LeaseKeeper

    from pipeline.distributed.health import Heartbeat

    wid = worker_id()
    os.environ["GRIDSIGHT_WORKER_ID"] = wid  # segment tasks (and forked children) count under it
    keeper = live = None
    r = connect()
    if cameras_file and capacity > 0:
        live = LiveCameras(cameras_file, wid, detector, device, r, verify=verify)
        live.prepare()
        keeper = LeaseKeeper(r, wid, capacity=capacity, cameras=live.ids, on_start=live.start,
                             on_stop=live.stop, ttl_s=lease_ttl_s)
        live.keeper = keeper
        keeper.start()
    beat = Heartbeat(r, wid, {"concurrency": concurrency, "device": device, "capacity": capacity,
                              "queues": queues}, cameras=lambda: list(keeper.held) if keeper else []).start()
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "-P", "solo" if concurrency == 1 else "prefork",
            "-n", f"{wid}@{socket.gethostname()}", "-l", loglevel, "--without-gossip", "--without-mingle",
            "--without-heartbeat"]
    try:
        app.worker_main(argv)
    finally:
        beat.stop()
        if keeper is not None:
            keeper.stop()
        if live is not None:
            live.close()
    return 0
