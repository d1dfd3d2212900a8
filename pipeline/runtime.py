"""The running pipeline: one detector and scheduler, a processor per camera, delivery.

>>> from pipeline.runtime import Pipeline, PipelineOptions
>>> with Pipeline(PipelineOptions()) as p:                       # doctest: +SKIP
...     p.add_camera(camera, source)
...     p.wait()

Events become contract payloads with evidence JPEGs in the durable outbox (``deliver=True``),
which the courier thread empties into the ticket API; or they are only collected
(``p.events``), as the benchmark does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from gridsight.issues import Camera
from pipeline.client import Courier, TicketClient, incident_payload
from pipeline.evidence import render
from pipeline.incidents import IncidentEvent
from pipeline.outbox import Outbox
from pipeline.processing import CameraProcessor, privacy_threshold
from gridsight.issues import load_catalogue
from pipeline.scheduler import BatchScheduler

log = logging.getLogger("gridsight.pipeline")


def tune_process() -> None:
    """Settings of the process a pipeline runs in: OpenCV works in the thread that calls it. Each camera
    already has its own threads, and the detector's runtime uses every core; OpenCV's own pool, waking
    for every small resize and colour conversion, only added CPU time (about 5% per frame, measured by
    bench/pipeline.py on 2 cores)."""
    import cv2

    cv2.setNumThreads(1)


@dataclass
class PipelineOptions:
    issues: Path | None = None  # configs/issues.yaml by default
    model: str | None = None
    detector: object | None = None  # an already loaded Detector (tests, benchmarks)
    deliver: bool = True
    api_url: str | None = None
    api_key: str | None = None
    outbox: Path | None = None  # settings.home/outbox.db by default
    language: str | None = None
    blur_people: bool = True
    gate: bool = True
    full_check_s: float = 10.0
    stationary_recheck_s: float = 5.0
    max_wait_s: float = 0.01
    source: str = "camera"


class Pipeline:
    def __init__(self, options: PipelineOptions) -> None:
        from gridsight.settings import get_settings

        self.o = options
        tune_process()
        s = get_settings()
        self.settings = s
        self.rules = load_catalogue(options.issues or s.configs / "issues.yaml")
        self.language = options.language or s.language
        if options.detector is not None:
            self.detector = options.detector
        else:
            from models.detector import load_detector

            self.detector = load_detector(options.model)
        from models.registry import operating_points

        self.operating_points = operating_points(options.model)
        self.scheduler = BatchScheduler(self.detector, max_wait_s=options.max_wait_s, **privacy_threshold(self.detector))
        self.processors: list[CameraProcessor] = []
        self.events: list[IncidentEvent] = []
        self.outbox = self.courier = None
        if options.deliver:
            self.outbox = Outbox(options.outbox or s.home / "outbox.db")
            client = TicketClient(options.api_url or s.api_url, s.api_key if options.api_key is None else options.api_key)
            self.courier = Courier(self.outbox, client).start()

    def add_camera(self, camera: Camera, source) -> CameraProcessor:
        proc = CameraProcessor(camera, source, self.scheduler, self.rules, self.detector.names, self._sink,
                               gate=self.o.gate, ledger=self.outbox if source.live else None,
                               full_check_s=self.o.full_check_s, stationary_recheck_s=self.o.stationary_recheck_s,
                               min_score=getattr(self.detector, "conf", 0.0),
                               privacy_window_s=self.settings.privacy_window_s, operating_points=self.operating_points)
        self.processors.append(proc.start())
        return proc

    def _sink(self, camera: Camera, events: list[IncidentEvent]) -> None:
        self.events.extend(events)
        if self.outbox is None:
            return
        for ev in events:
            images = render(ev, language=self.language, blur_people=self.o.blur_people) if ev.event != "close" else None
            payload = incident_payload(ev, location=camera.location, source=self.o.source)
            self.outbox.put(payload, *(images or (None, None)))

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every (file) camera is done."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for p in self.processors:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not p.join(left):
                return False
        return True

    def close(self, drain_s: float = 10.0) -> None:
        for p in self.processors:
            p.stop()
        for p in self.processors:
            p.join(5)
        self.scheduler.close()
        if self.courier is not None:
            self.courier.stop(drain_s=drain_s)
            self.courier.client.close()
        if self.outbox is not None:
            self.outbox.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
