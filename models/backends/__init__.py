"""The detector backends: one module per runtime, and this table, one row per backend.

Each module subclasses :class:`models.backends.base.Detector` and imports its runtime library
only when loaded. Everything else (``load_detector``'s choice and construction, the registry's
checks and model paths, exports, the CLI's ``--backend``) reads :data:`BACKENDS`, so adding a
backend is one new module here plus one row below, placed by preference (fastest first: the
first row that runs on a device and whose runtime is installed is ``auto``'s choice there).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    name: str  # as in --backend, GRIDSIGHT_BACKEND and configs/models.yaml
    detector: str  # "package.module:Class", a Detector subclass built as Class(model, entry=..., **options)
    runtime: str  # the library it needs (importable: the backend is available)
    devices: tuple[str, ...]  # where "auto" may choose it: "cpu", "cuda"
    export_format: str | None = None  # Ultralytics export format; None: it runs the .pt weights themselves
    suffix: str = ""  # how its model files (or folders) are named
    fp16: bool = False  # runs fp16 by default on a GPU
    int8: bool = False  # can run int8 exports
    dynamic: bool = False  # one export serves every input shape and batch size

    def load(self) -> type:
        module, cls = self.detector.split(":")
        return getattr(importlib.import_module(module), cls)

    def default_precision(self, device: str) -> str:
        return "fp16" if self.fp16 and device.startswith("cuda") else "fp32"

    def precisions(self, device: str) -> tuple[str, ...]:
        """What ``auto`` precision may choose from on ``device``: fp16 on a GPU, fp32 and int8 on a CPU."""
        if device.startswith("cuda"):
            return (self.default_precision(device),)
        return ("fp32", "int8") if self.int8 else ("fp32",)


BACKENDS: tuple[Backend, ...] = (  # fastest first
    Backend("tensorrt", "models.backends.tensorrt_backend:TensorRTDetector", "tensorrt", ("cuda",), "engine",
            ".engine", fp16=True),
    Backend("openvino", "models.backends.openvino_backend:OpenVINODetector", "openvino", ("cpu",), "openvino",
            "_openvino_model", int8=True, dynamic=True),
    Backend("onnx", "models.backends.onnx_backend:OnnxDetector", "onnxruntime", ("cpu",), "onnx", ".onnx"),
    Backend("torch", "models.backends.torch_backend:TorchDetector", "torch", ("cpu", "cuda"), None, ".pt", fp16=True),
)


def names() -> list[str]:
    return [b.name for b in BACKENDS]


def backend(name: str) -> Backend:
    """The row of ``name`` (KeyError when there is none)."""
    for b in BACKENDS:
        if b.name == name:
            return b
    raise KeyError(name)


def for_device(device: str) -> list[Backend]:
    """The backends that run on ``device`` ("cpu", "cuda:N"), fastest first."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return [b for b in BACKENDS if kind in b.devices]
