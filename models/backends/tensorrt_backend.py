"""TensorRT backend (NVIDIA GPUs, where ``tensorrt`` imports): an fp16 engine built by the
Ultralytics exporter and run through its AutoBackend, frames converted on the GPU."""

from __future__ import annotations

import numpy as np

from models.backends.base import Detector, pad_batch
from models.registry import Artefact, ModelEntry


class TensorRTDetector(Detector):
    backend = "tensorrt"
    overlap = True

    def __init__(self, artefact: Artefact, *, entry: ModelEntry | None = None, device: str = "cuda:0",
                 **kwargs) -> None:
        import torch
        from ultralytics.nn.autobackend import AutoBackend

        self._torch = torch
        self.model = AutoBackend(str(artefact.path), device=torch.device(device), fp16=True, verbose=False)
        self.model_batch = artefact.batch
        names = self.model.names if isinstance(self.model.names, dict) else dict(enumerate(entry.classes or ()))
        super().__init__(names=names, device=device, source=str(artefact.path), **kwargs)
        self.precision = artefact.precision

    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        torch = self._torch
        n = len(canvas)
        canvas = pad_batch(canvas, self.model_batch) if self.model_batch else canvas
        with torch.inference_mode():
            x = torch.from_numpy(canvas).to(self.device, non_blocking=True)
            x = x.permute(0, 3, 1, 2).flip(1).half().div_(255.0).contiguous()
            y = self.model(x)
            y = y[0] if isinstance(y, (list, tuple)) else y
            return y[:n].float().cpu().numpy()
