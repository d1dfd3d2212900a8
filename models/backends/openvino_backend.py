"""OpenVINO backend: the CPU workhorse (fp32, or int8 from post-training quantisation).

* The uint8 BGR letterboxed batch goes in as is; colour swap, float conversion, scaling and
  NHWC->NCHW run inside the compiled graph (OpenVINO's PrePostProcessor), not in Python.
* Requests run asynchronously (throughput hint, one more request than the CPU has streams), and
  frames go through them one after another (:meth:`~models.backends.base.Detector.begin` /
  ``finish``): while OpenVINO infers frames on its threads, the caller's thread letterboxes the
  next and NMS-es the finished ones. OpenVINO's threads never run Python (no completion
  callbacks): a callback needs the GIL, and a stream waiting for it is a core standing idle.
* A static batch-1 model (such as the prebuilt COCO int8 one) serves any ``batch``: each
  frame is its own request, and the requests run in parallel streams. The pipeline's scheduler
  keeps frames in flight across cameras instead of in batches (:mod:`pipeline.scheduler`).
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Sequence

import numpy as np

from gridsight.settings import get_settings
from models.detections import Detections
from models.backends.base import Detector, pad_batch
from models.letterbox import check_frame, letterbox_batch
from models.registry import Artefact, ModelEntry, entry_from_path

_core = None
_core_lock = threading.Lock()


def core():
    """One OpenVINO Core per process, with a compiled-model cache (fast second start)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov

            _core = ov.Core()
            cache = get_settings().cache_dir / "openvino"
            cache.mkdir(parents=True, exist_ok=True)
            _core.set_property({"CACHE_DIR": str(cache)})
        return _core


def model_xml(path: Path) -> Path:
    if path.suffix == ".xml":
        return path
    xmls = sorted(path.glob("*.xml"))
    if not xmls:
        raise FileNotFoundError(f"no OpenVINO .xml model in {path}")
    return xmls[0]


def compile_uint8_bgr(xml: Path, device: str = "CPU", hint: str = "THROUGHPUT", streams: int | None = None,
                      shape: tuple[int, int] | None = None):
    """Read ``xml`` and compile it to take uint8 BGR NHWC frames (preprocessing inside the graph);
    ``shape`` (H, W) fixes a dynamic model's input to one static shape (15-20% faster on a CPU)."""
    import openvino as ov
    from openvino.preprocess import ColorFormat, PrePostProcessor

    model = core().read_model(str(xml))
    if shape is not None:
        model.reshape({model.input(0): ov.PartialShape([1, 3, *shape])})
    ppp = PrePostProcessor(model)
    inp = ppp.input()
    inp.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
    inp.model().set_layout(ov.Layout("NCHW"))
    inp.preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
    model = ppp.build()
    # no pinning: on a machine shared with decoders, the API or another model a pinned stream thread
    # waits for its own core while another one is free
    config = {"PERFORMANCE_HINT": hint, "ENABLE_CPU_PINNING": False}
    if streams:
        config["NUM_STREAMS"] = str(streams)
    return core().compile_model(model, device, config)


def quantize(fp32: Path, images: list[Path], net, imgsz: int) -> Path:
    """Post-training int8 quantisation (NNCF) of the fp32 export folder ``fp32``, calibrated on ``images``
    (letterboxed as the detector does); the int8 model replaces it in ``model_int8_openvino_model`` beside
    it. Kept in float: the head's box decoding and DFL (Ultralytics' own rule) and every block with an
    attention layer (YOLO11's C2PSA). Measured on 297 validation photos against the fp32 .pt's boxes
    (``bench/int8_accuracy.py``, COCO YOLO11n, 640 px): Ultralytics' int8 export -2.7 to -3.1 mAP50
    points; with full bias correction -1.9; with the attention block in float as well -0.7, at the
    same CPU time per frame (the block is a few percent of the work)."""
    import logging
    import shutil

    import cv2
    import nncf
    import openvino as ov

    from models.letterbox import to_nchw_float

    nncf.set_log_level(logging.WARNING)
    model = ov.Core().read_model(str(model_xml(fp32)))
    ops = model.get_ordered_ops()
    head = len(net.model) - 1  # Ultralytics models end with the detect head
    attention = [i for i, m in enumerate(net.model)
                 if any(type(sub).__name__ in ("Attention", "AAttn") for sub in m.modules())]
    head_ops = (f"__module.model.{head}/", f"__module.model.{head}.dfl")
    blocks = tuple(p for i in attention for p in (f"__module.model.{i}/", f"__module.model.{i}."))
    keep = [op.get_friendly_name() for op in ops if op.get_type_name() == "Sigmoid"
            or op.get_friendly_name().startswith(head_ops + blocks)]
    if blocks and not any(name.startswith(blocks) for name in keep):  # names from another converter
        logging.getLogger("gridsight.models.export").warning(
            "int8: no operation of the attention blocks %s found by name; they are quantised too", attention)

    def transform(path: Path) -> np.ndarray:
        return to_nchw_float(letterbox_batch([cv2.imread(str(path))], imgsz).canvas)

    images = [p for p in images if cv2.imread(str(p)) is not None]
    q = nncf.quantize(model, nncf.Dataset(images, transform), preset=nncf.QuantizationPreset.MIXED,
                      subset_size=len(images), fast_bias_correction=False,
                      ignored_scope=nncf.IgnoredScope(names=keep, validate=False))
    out = fp32.parent / fp32.name.replace("_openvino_model", "_int8_openvino_model")
    out.mkdir()
    ov.save_model(q, str(out / model_xml(fp32).name))
    for extra in fp32.iterdir():  # metadata.yaml (class names, stride)
        if extra.suffix not in (".xml", ".bin"):
            shutil.copy(extra, out / extra.name)
    shutil.rmtree(fp32)
    return out


class _Slots:
    """The infer requests of one compiled model, each free or carrying one begun chunk."""

    def __init__(self, compiled, size: int) -> None:
        self.compiled = compiled
        self.requests = [compiled.create_infer_request() for _ in range(size)]
        self.busy = [False] * size

    def take(self) -> int:
        for i, busy in enumerate(self.busy):
            if not busy:
                self.busy[i] = True
                return i
        self.requests.append(self.compiled.create_infer_request())  # a caller with more in flight than asked
        self.busy.append(True)
        return len(self.requests) - 1


class OpenVINODetector(Detector):
    backend = "openvino"
    quantize = staticmethod(quantize)  # the int8 export step (models/export.py)
    MAX_SHAPES = 8  # static compilations kept for a dynamic model; more shapes use the dynamic one

    def __init__(self, artefact: Artefact, *, entry: ModelEntry | None = None, device: str = "cpu",
                 hint: str = "THROUGHPUT", streams: int | None = None, **kwargs) -> None:
        xml = model_xml(artefact.path)
        meta_names = entry_from_path(xml.parent).classes if xml.parent.is_dir() else None
        classes = meta_names or (entry.classes if entry else None)
        if not classes:
            raise ValueError(f"{artefact.path}: no class names (metadata.yaml missing and no registry classes)")
        if device.startswith("cuda"):
            raise ValueError("the OpenVINO backend runs on the CPU (or an Intel GPU: device 'GPU'); "
                             "for NVIDIA GPUs use the torch or tensorrt backend")
        self._xml, self._hint, self._streams = xml, hint, streams
        self._ov_device = "GPU" if device.upper().startswith("GPU") else "CPU"
        self._slots: dict = {}  # (H, W) of a static compilation, or None for the model as read -> _Slots
        compiled = self._pool(None).compiled
        shape = compiled.input(0).get_partial_shape()
        self.model_batch = shape[0].get_length() if shape[0].is_static else 0
        self.rect = shape[1].is_dynamic or shape[2].is_dynamic  # any input shape: rectangular letterbox
        self.in_flight = len(self._slots[None].requests)
        model_size = shape[1].get_length() if shape[1].is_static else None
        imgsz = kwargs.pop("imgsz")
        if model_size and model_size != imgsz:
            raise ValueError(f"{artefact.path} takes {model_size}px input, not {imgsz}")
        super().__init__(names=dict(enumerate(classes)), device="cpu" if self._ov_device == "CPU" else device,
                         imgsz=imgsz, source=str(artefact.path), **kwargs)
        self.precision = artefact.precision

    def _pool(self, shape: tuple[int, int] | None) -> _Slots:
        """The requests for inputs of ``shape``: a dynamic model is compiled once per frame shape it
        meets (a camera keeps its shape), up to MAX_SHAPES."""
        if shape is not None and shape not in self._slots and len(self._slots) > self.MAX_SHAPES:
            shape = None
        if shape not in self._slots:
            compiled = compile_uint8_bgr(self._xml, self._ov_device, self._hint, self._streams, shape)
            # the runtime's streams each run one request; one more in flight keeps a stream from waiting
            # while Python finishes the last frame and letterboxes the next (measured: 1.6 -> 1.9 cores used)
            size = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))) + 1
            self._slots[shape] = _Slots(compiled, size)
        return self._slots[shape]

    @property
    def frames_per_request(self) -> int:
        # a dynamic-batch model on a CPU still runs one frame per request: the throughput streams run
        # requests in parallel, and each frame keeps its own rectangle
        return self.model_batch or 1

    @property
    def streams(self) -> bool:
        return self.frames_per_request == 1

    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        """Synchronous path (detect() is the fast one): one request per frame."""
        return np.concatenate([self._pool(self._shape_key(canvas[i:i + 1])).compiled(canvas[i:i + 1])[0]
                               for i in range(len(canvas))])

    def _shape_key(self, x: np.ndarray) -> tuple[int, int] | None:
        return (x.shape[1], x.shape[2]) if self.rect else None

    def begin(self, frames: Sequence[np.ndarray], conf: float | None = None):
        """Letterbox ``frames`` (at most :attr:`frames_per_request`) and start inferring them; returns the
        ticket :meth:`finish` takes. At most :attr:`in_flight` tickets should be open at a time."""
        lb = letterbox_batch(frames, self.imgsz, self.rect)
        x = pad_batch(lb.canvas, self.model_batch) if self.model_batch else lb.canvas
        pool = self._pool(self._shape_key(x))
        i = pool.take()
        try:
            pool.requests[i].start_async({0: x}, share_inputs=True)  # x stays referenced by the ticket
        except BaseException:
            pool.busy[i] = False
            raise
        return pool, i, lb, x, self.conf if conf is None else conf

    def finish(self, ticket) -> list[Detections]:
        """Wait for a begun chunk and return its detections (the request is free again after)."""
        pool, i, lb, _, conf = ticket
        try:
            pool.requests[i].wait()
            return self._detections(pool.requests[i].get_output_tensor(0).data, lb, conf)
        finally:
            pool.busy[i] = False

    def detect(self, frames: Sequence[np.ndarray], conf: float | None = None) -> list[Detections]:
        frames = list(frames)
        for f in frames:
            check_frame(f)
        step, out, open_ = self.frames_per_request, [], deque()
        try:
            for start in range(0, len(frames), step):
                if len(open_) >= self.in_flight:
                    out.extend(self.finish(open_.popleft()))
                open_.append(self.begin(frames[start:start + step], conf))
            while open_:
                out.extend(self.finish(open_.popleft()))
        finally:
            for ticket in open_:  # an error: let the requests already started end before they are reused
                ticket[0].requests[ticket[1]].wait()
                ticket[0].busy[ticket[1]] = False
        return out
