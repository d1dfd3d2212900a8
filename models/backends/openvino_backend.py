"""OpenVINO backend: the CPU workhorse (fp32, or int8 from post-training quantisation).

* The uint8 BGR letterboxed batch goes in as is; colour swap, float conversion, scaling and
  NHWC->NCHW run inside the compiled graph (OpenVINO's PrePostProcessor), not in Python.
* Requests run asynchronously (``AsyncInferQueue``, throughput hint): while OpenVINO infers
  one chunk on its threads, Python letterboxes the next and NMS-es the previous.
* A static batch-1 model (such as the prebuilt COCO int8 one) serves any ``batch``: each
  frame is its own request, and the requests run in parallel streams.
"""

from __future__ import annotations

import threading
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


class OpenVINODetector(Detector):
    backend = "openvino"
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
        self._queues: dict = {}  # (H, W) of a static compilation, or None for the model as read -> queue
        compiled = self._queue(None).compiled
        shape = compiled.input(0).get_partial_shape()
        self.model_batch = shape[0].get_length() if shape[0].is_static else 0
        self.rect = shape[1].is_dynamic or shape[2].is_dynamic  # any input shape: rectangular letterbox
        model_size = shape[1].get_length() if shape[1].is_static else None
        imgsz = kwargs.pop("imgsz")
        if model_size and model_size != imgsz:
            raise ValueError(f"{artefact.path} takes {model_size}px input, not {imgsz}")
        super().__init__(names=dict(enumerate(classes)), device="cpu" if self._ov_device == "CPU" else device,
                         imgsz=imgsz, source=str(artefact.path), **kwargs)
        self.precision = artefact.precision
        self._results: list = []
        self._error: BaseException | None = None

    def _queue(self, shape: tuple[int, int] | None):
        """The async request queue for inputs of ``shape``: a dynamic model is compiled once per
        frame shape it meets (a camera keeps its shape), up to MAX_SHAPES."""
        from openvino import AsyncInferQueue

        if shape is not None and shape not in self._queues and len(self._queues) > self.MAX_SHAPES:
            shape = None
        if shape not in self._queues:
            compiled = compile_uint8_bgr(self._xml, self._ov_device, self._hint, self._streams, shape)
            nreq = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
            queue = AsyncInferQueue(compiled, nreq)
            queue.set_callback(self._done)
            queue.compiled = compiled
            self._queues[shape] = queue
        return self._queues[shape]

    @property
    def frames_per_request(self) -> int:
        # a dynamic-batch model on a CPU still runs one frame per request: the throughput streams run
        # requests in parallel, and each frame keeps its own rectangle
        return self.model_batch or 1

    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        """Synchronous path (detect() is the fast one): one request per frame."""
        return np.concatenate([self._queue(self._shape_key(canvas[i:i + 1])).compiled(canvas[i:i + 1])[0]
                               for i in range(len(canvas))])

    def _shape_key(self, x: np.ndarray) -> tuple[int, int] | None:
        return (x.shape[1], x.shape[2]) if self.rect else None

    def _done(self, request, userdata) -> None:
        lb, start, _, conf = userdata  # the input array stays referenced until its request is done
        try:
            raw = request.get_output_tensor(0).data
            self._results[start:start + len(lb.shapes)] = self._detections(raw, lb, conf)
        except BaseException as exc:  # surfaced by detect()
            self._error = exc

    def detect(self, frames: Sequence[np.ndarray], conf: float | None = None) -> list[Detections]:
        frames = list(frames)
        conf = self.conf if conf is None else conf
        for f in frames:
            check_frame(f)
        self._results = [None] * len(frames)
        self._error = None
        step = self.frames_per_request
        used = []
        for start in range(0, len(frames), step):
            lb = letterbox_batch(frames[start:start + step], self.imgsz, self.rect)
            x = pad_batch(lb.canvas, self.model_batch) if self.model_batch else lb.canvas
            queue = self._queue(self._shape_key(x))
            if queue not in used:
                used.append(queue)
            queue.start_async({0: x}, (lb, start, x, conf), share_inputs=True)
        for queue in used:
            queue.wait_all()
        if self._error is not None:
            raise self._error
        results, self._results = self._results, []
        return results
