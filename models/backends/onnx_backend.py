"""ONNX Runtime backend (CPU, or CUDA when onnxruntime-gpu is installed)."""

from __future__ import annotations

import ast

import numpy as np

from models.backends.base import Detector, pad_batch
from models.letterbox import to_nchw_float
from models.registry import Artefact, ModelEntry


class OnnxDetector(Detector):
    backend = "onnx"

    def __init__(self, artefact: Artefact, *, entry: ModelEntry | None = None, device: str = "cpu", **kwargs) -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(device.partition(":")[2] or 0)}))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # share a busy CPU politely
        self.session = ort.InferenceSession(str(artefact.path), opts, providers=providers)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.model_batch = inp.shape[0] if isinstance(inp.shape[0], int) else 0
        self._half = "float16" in inp.type
        meta = self.session.get_modelmeta().custom_metadata_map
        names = ast.literal_eval(meta["names"]) if "names" in meta else dict(enumerate(entry.classes or ()))
        if isinstance(inp.shape[2], int) and inp.shape[2] != kwargs["imgsz"]:
            raise ValueError(f"{artefact.path} takes {inp.shape[2]}px input, not {kwargs['imgsz']}")
        super().__init__(names=names, device=device if len(providers) > 1 else "cpu", source=str(artefact.path),
                         **kwargs)
        self.precision = artefact.precision

    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        outs = []
        step = self.model_batch or len(canvas)
        for i in range(0, len(canvas), step):
            part = canvas[i:i + step]
            x = to_nchw_float(pad_batch(part, self.model_batch) if self.model_batch else part,
                              np.float16 if self._half else np.float32)
            outs.append(self.session.run(None, {self.input_name: x})[0][:len(part)].astype(np.float32))
        return np.concatenate(outs)
