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
Detector (:mod:`pipeline.scheduler`): it streams frames through ``begin``/``finish`` when the
detector ``streams`` (OpenVINO on a CPU, ``in_flight`` at a time), else batches them across
sources; more throughput comes from keeping the runtime fed, not more callers. Processes load their own Detector after
they start (never fork a process that already loaded one, never pickle one); each Detector
already uses every core it is given, so on a small CPU run one per machine.
"""

from __future__ import annotations

import os
from typing import Sequence

from models import backends
from models.backends.base import Detector, pad_batch  # noqa: F401  (the interface, named here for callers)

def available_backends(device: str) -> list[str]:
    """Backends importable here, fastest first, for ``device`` (the table in :mod:`models.backends`)."""
    import importlib.util

    return [b.name for b in backends.for_device(device) if importlib.util.find_spec(b.runtime) is not None]


def auto_precision(backend: str, device: str) -> str:
    """``auto``'s guess from CPU flags, used when calibration is off (``GRIDSIGHT_PRECISION_CALIBRATION``)
    and as the one candidate always measured (:mod:`models.precision` measures the others, and builds an
    int8 export only when this guess is int8). On a CPU with AMX, OpenVINO executes an fp32 model in bf16,
    measured ~30% faster than its int8 model for YOLO11n; an AMD EPYC with AVX512-BF16 and VNNI but no AMX
    ran our int8 export 25% cheaper than fp32-as-bf16 (13 against 17 CPU ms per 640 px frame, issue 19).
    So: fp32 where OpenVINO has bf16 and the CPU has AMX, else int8. GPUs: fp16."""
    if device.startswith("cuda"):
        return "fp16"
    if backend == "openvino":
        from models.backends.openvino_backend import core

        bf16 = "BF16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        return "fp32" if bf16 and _has_amx() else "int8"
    return "fp32"


def _has_amx() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " amx_bf16" in line for line in f)
    except OSError:
        return False


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
    from models.registry import resolve_model

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
    try:
        row = backends.backend(chosen)
    except KeyError:
        raise UserError(f"unknown backend {chosen!r} (one of {', '.join(backends.names())})") from None
    explicit = precision not in (None, "auto")
    if precision is None:
        precision = entry.precision.get(chosen) or row.default_precision(device)
    kwargs = dict(device=device, imgsz=imgsz, batch=batch, conf=s.conf if conf is None else conf,
                  iou=s.iou if iou is None else iou, classes=classes)

    def build(precision: str) -> Detector:
        if row.export_format is None:  # runs the .pt itself
            if entry.weights is None or not entry.weights.exists():
                raise UserError(f"model {entry.name!r}: the {chosen} backend needs .pt weights")
            return row.load()(entry.weights, entry=entry, precision=precision, **kwargs)
        return row.load()(artefact_for(entry, chosen, precision, imgsz, batch, device, prebuilt=prebuilt),
                          entry=entry, precision=precision, **kwargs)

    if precision == "auto":
        rule = auto_precision(chosen, device)
        if s.precision_calibration:  # measure the candidates once here, then reuse the choice
            from models.precision import load_fastest

            return load_fastest(entry, row, device, imgsz, batch, rule, build, prebuilt)
        precision = rule
    if not explicit and (entry.weights is None or not entry.weights.exists()):  # nothing to export from:
        ready = [a.precision for a in entry.prebuilt if a.backend == chosen and a.path.exists()]  # use what exists
        precision = precision if precision in ready or not ready else ready[0]
    return build(precision)
