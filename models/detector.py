"""The detector: one interface over every runtime (torch, OpenVINO, ONNX Runtime, TensorRT).

>>> from models.detector import load_detector
>>> det = load_detector()                      # registry default, fastest backend here  # doctest: +SKIP
>>> [d.class_names for d in det.detect([frame_a, frame_b])]  # doctest: +SKIP

``detect`` takes BGR uint8 frames of any sizes, letterboxes them once (:mod:`models.letterbox`),
runs them in ``batch``-sized chunks and returns one :class:`~models.detections.Detections` per
frame, boxes in source pixels, after the confidence threshold and class-aware NMS.

Threads and processes -- the one rule: **a Detector belongs to one thread.** It holds native
runtime state (infer requests, reusable buffers) and is not safe to call from two threads at
once. Many cameras share one model by handing frames to a single scheduler thread that owns the
Detector and batches across sources (the pipeline's batching scheduler does this); more
throughput comes from a bigger batch, not more callers. Processes load their own Detector after
they start (never fork a process that already loaded one, never pickle one); each Detector
already uses every core it is given, so on a small CPU run one per machine.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Sequence

import numpy as np

from models.detections import Detections
from models.letterbox import Letterboxed, check_frame, letterbox_batch, unletterbox
from models.postprocess import boxes_from_head

CPU_ORDER = ("openvino", "onnx", "torch")  # fastest first, on a CPU
CUDA_ORDER = ("tensorrt", "torch")


class Detector(ABC):
    names: dict[int, str]  # class id -> class name
    backend: str  # "torch" | "openvino" | "onnx" | "tensorrt"
    device: str  # "cpu", "cuda:0", ...
    imgsz: int
    batch: int
    precision: str  # "fp32" | "fp16" | "int8"
    rect = False  # the model takes any input shape: letterbox to the smallest rectangle, not the square
    overlap = False  # letterbox the next chunk in a thread while this one runs (GPU backends)

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
    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """One Detections per frame (BGR uint8 HxWx3, any sizes), in order."""
        frames = list(frames)
        for f in frames:
            check_frame(f)
        if not frames:
            return []
        out: list[Detections] = []
        for lb, raw in self._run(self._chunks(frames)):
            out.extend(self._detections(raw, lb))
        return out

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

    def _detections(self, raw: np.ndarray, lb: Letterboxed) -> list[Detections]:
        out = []
        for i in range(len(lb.shapes)):
            xyxy, scores, cls = boxes_from_head(raw[i], self.conf, self.iou, self.class_filter, self.max_det)
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


def available_backends(device: str) -> list[str]:
    """Backends importable here, fastest first, for ``device``."""
    import importlib.util

    order = CUDA_ORDER if device.startswith("cuda") else CPU_ORDER
    mods = {"openvino": "openvino", "onnx": "onnxruntime", "torch": "torch", "tensorrt": "tensorrt"}
    return [b for b in order if importlib.util.find_spec(mods[b]) is not None]


def auto_precision(backend: str, device: str) -> str:
    """``auto`` in the registry: what runs fastest here. On a CPU with native bf16 (AMX / AVX512-BF16),
    OpenVINO executes an fp32 model in bf16, measured ~30% faster than its int8 model for YOLO11n and
    as accurate as fp32 (see docs/detection.md); elsewhere int8. GPUs: fp16."""
    if device.startswith("cuda"):
        return "fp16"
    if backend == "openvino":
        from models.backends.openvino_backend import core

        return "fp32" if "BF16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "int8"
    return "fp32"


def resolve_device(device: str) -> str:
    if device in ("", "auto"):
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        return "cuda:0"
    if device.isdigit():
        return f"cuda:{device}"
    return device


def load_detector(model: str | os.PathLike | None = None, *, backend: str = "auto", device: str = "auto",
                  imgsz: int | None = None, conf: float | None = None, iou: float | None = None,
                  batch: int | None = None, classes: Sequence[str] | None = None,
                  precision: str | None = None, prebuilt: bool = True) -> Detector:
    """Load ``model`` (registry name, None -> settings.model -> registry default, or a path) on the fastest
    backend available for ``device`` unless ``backend`` says otherwise. Missing exports are built and
    cached on first use (see :mod:`models.export`); ``prebuilt=False`` skips the registry's prebuilt
    artefacts and uses (or builds) an export of the .pt. Other defaults come from ``gridsight.settings``."""
    from gridsight.errors import UserError
    from gridsight.settings import get_settings
    from models.export import artefact_for
    from models.registry import BACKENDS, resolve_model

    s = get_settings()
    entry = resolve_model(model)
    device = resolve_device(device if device != "auto" else s.device)
    backend = backend if backend != "auto" else s.backend
    if imgsz is None:
        imgsz = s.imgsz if "imgsz" in s.model_fields_set else (entry.imgsz or s.imgsz)
    imgsz = int(imgsz)
    if imgsz % 32:
        raise UserError(f"image size {imgsz} is not a multiple of 32")
    batch = int(batch or s.batch)
    candidates = [backend] if backend != "auto" else available_backends(device)
    if entry.weights is None or not entry.weights.exists():  # only prebuilt artefacts can run
        have = [a.backend for a in entry.prebuilt if a.path.exists()]
        candidates = [b for b in candidates if b in have] or candidates
    chosen = candidates[0] if candidates else "torch"
    if chosen not in BACKENDS:
        raise UserError(f"unknown backend {chosen!r} (one of {', '.join(BACKENDS)})")
    explicit = precision is not None
    if precision is None:
        precision = entry.precision.get(chosen) or ("fp16" if device.startswith("cuda") and chosen != "onnx" else "fp32")
    if precision == "auto":
        precision = auto_precision(chosen, device)
    if not explicit and (entry.weights is None or not entry.weights.exists()):  # nothing to export from:
        ready = [a.precision for a in entry.prebuilt if a.backend == chosen and a.path.exists()]  # use what exists
        precision = precision if precision in ready or not ready else ready[0]
    kwargs = dict(device=device, imgsz=imgsz, batch=batch, conf=s.conf if conf is None else conf,
                  iou=s.iou if iou is None else iou, classes=classes, precision=precision)
    if chosen == "torch":
        from models.backends.torch_backend import TorchDetector

        if entry.weights is None or not entry.weights.exists():
            raise UserError(f"model {entry.name!r}: the torch backend needs .pt weights")
        return TorchDetector(entry.weights, **kwargs)
    artefact = artefact_for(entry, chosen, precision, imgsz, batch, device, prebuilt=prebuilt)
    if chosen == "openvino":
        from models.backends.openvino_backend import OpenVINODetector

        return OpenVINODetector(artefact, entry=entry, **kwargs)
    if chosen == "onnx":
        from models.backends.onnx_backend import OnnxDetector

        return OnnxDetector(artefact, entry=entry, **kwargs)
    from models.backends.tensorrt_backend import TensorRTDetector

    return TensorRTDetector(artefact, entry=entry, **kwargs)
