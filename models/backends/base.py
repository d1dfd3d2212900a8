"""The interface every runtime implements (:class:`Detector`), and helpers the runtimes share.

Backends import this module; :mod:`models.detector` (the public face, with ``load_detector``)
imports the backends, so the arrows run one way. The rules of use are in :mod:`models.detector`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Sequence

import numpy as np

from models.detections import Detections
from models.letterbox import Letterboxed, check_frame, letterbox_batch, unletterbox
from models.postprocess import boxes_from_head


class Detector(ABC):
    names: dict[int, str]  # class id -> class name
    backend: str  # "torch" | "openvino" | "onnx" | "tensorrt"
    device: str  # "cpu", "cuda:0", ...
    imgsz: int
    batch: int
    precision: str  # "fp32" | "fp16" | "int8"
    rect = False  # the model takes any input shape: letterbox to the smallest rectangle, not the square
    overlap = False  # letterbox the next chunk in a thread while this one runs (GPU backends)
    # streams: frames are best fed one at a time through begin/finish, up to ``in_flight`` begun and not
    # finished (a CPU runtime's parallel requests); otherwise in ``batch``-sized detect calls (GPUs)
    streams = False
    in_flight = 1

    def __init__(self, *, names: dict[int, str], device: str, imgsz: int, batch: int, conf: float, iou: float,
                 classes: Sequence[str] | None = None, precision: str = "fp32", source: str = "",
                 max_det: int = 300) -> None:
        self.names = dict(names)
        self.device = device
        self.imgsz = int(imgsz)
        self.batch = max(1, int(batch))
        self.conf = float(conf)
        self.iou = float(iou)
        self.precision = precision
        self.source = source  # the artefact actually running (for logs and benchmarks)
        self.max_det = max_det
        self.class_filter = self._class_filter(classes)

    def _class_filter(self, classes: Sequence[str] | None) -> np.ndarray | None:
        if not classes:
            return None
        by_name = {n: i for i, n in self.names.items()}
        unknown = [c for c in classes if c not in by_name]
        if unknown:
            raise ValueError(f"unknown classes {unknown}; this model knows: {', '.join(self.names.values())}")
        return np.array(sorted(by_name[c] for c in classes), np.int64)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(backend={self.backend!r}, device={self.device!r}, precision={self.precision!r}, "
                f"imgsz={self.imgsz}, batch={self.batch}, source={self.source!r})")

    # --- the interface ----------------------------------------------------
    def detect(self, frames: Sequence[np.ndarray], conf: float | None = None) -> list[Detections]:
        """One Detections per frame (BGR uint8 HxWx3, any sizes), in order; ``conf``: a confidence
        threshold for this call instead of the detector's."""
        frames = list(frames)
        for f in frames:
            check_frame(f)
        if not frames:
            return []
        out: list[Detections] = []
        for lb, raw in self._run(self._chunks(frames)):
            out.extend(self._detections(raw, lb, self.conf if conf is None else conf))
        return out

    def begin(self, frames: Sequence[np.ndarray], conf: float | None = None):
        """Start detecting ``frames``; returns a ticket for :meth:`finish`. A backend that infers
        asynchronously returns at once (see ``streams``); this default does the work now."""
        return self.detect(frames, conf)

    def finish(self, ticket) -> list[Detections]:
        """The detections of a begun chunk, one per frame, waiting for them if need be."""
        return ticket

    def warmup(self, n: int = 2) -> None:
        frame = np.full((self.imgsz, self.imgsz, 3), 114, np.uint8)
        for _ in range(n):
            self.detect([frame] * self.batch)

    def close(self) -> None:  # release native resources early (optional)
        pass

    # --- what a backend provides --------------------------------------------
    @abstractmethod
    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        """uint8 BGR (b, H, W, 3) letterboxed batch, b <= batch -> head output (b, 4 + nc, A) float32."""

    def _run(self, chunks: Iterator[list[np.ndarray]]) -> Iterator[tuple[Letterboxed, np.ndarray]]:
        """Letterbox and infer chunk by chunk. With ``overlap`` (GPU backends: the device computes while
        the CPU prepares) the next chunk is letterboxed in a helper thread meanwhile; on a small CPU
        that would only make the runtime's threads and the helper fight for the same cores."""
        if not self.overlap:
            for chunk in chunks:
                lb = letterbox_batch(chunk, self.imgsz, self.rect)
                yield lb, self._infer(lb.canvas)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="letterbox") as pool:
            pending = None
            for chunk in chunks:
                nxt = pool.submit(letterbox_batch, chunk, self.imgsz, self.rect)
                if pending is not None:
                    lb = pending.result()
                    yield lb, self._infer(lb.canvas)
                pending = nxt
            if pending is not None:
                lb = pending.result()
                yield lb, self._infer(lb.canvas)

    # --- shared --------------------------------------------------------------
    def _chunks(self, frames: list[np.ndarray]) -> Iterator[list[np.ndarray]]:
        for i in range(0, len(frames), self.batch):
            yield frames[i:i + self.batch]

    def _detections(self, raw: np.ndarray, lb: Letterboxed, conf: float) -> list[Detections]:
        out = []
        for i in range(len(lb.shapes)):
            xyxy, scores, cls = boxes_from_head(raw[i], conf, self.iou, self.class_filter, self.max_det)
            if len(scores) == 0:
                out.append(Detections.empty(self.names))
                continue
            out.append(Detections(unletterbox(xyxy, lb.gains[i], lb.pads[i], lb.shapes[i]), scores, cls, self.names))
        return out


def pad_batch(canvas: np.ndarray, batch: int) -> np.ndarray:
    """A static-batch model needs exactly ``batch`` inputs: pad a short last chunk with grey frames."""
    if canvas.shape[0] == batch:
        return canvas
    pad = np.full((batch - canvas.shape[0], *canvas.shape[1:]), 114, canvas.dtype)
    return np.concatenate([canvas, pad])
