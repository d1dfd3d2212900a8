"""PyTorch backend: the .pt model itself, CPU fp32 or CUDA fp16.

The letterboxed uint8 batch goes to the device as bytes (4x less to copy than float) and is
converted to RGB float there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.backends.base import Detector


def load_torch_model(weights: Path, device: str, half: bool):
    """The fused eval-mode nn.Module in a .pt checkpoint, and its class names."""
    from ultralytics.nn.tasks import load_checkpoint

    model, _ = load_checkpoint(str(weights), device="cpu", fuse=True)
    model = model.to(device).eval()
    model = model.half() if half else model.float()
    for p in model.parameters():
        p.requires_grad_(False)
    names = model.names if isinstance(model.names, dict) else dict(enumerate(model.names))
    return model, {int(k): str(v) for k, v in names.items()}


class TorchDetector(Detector):
    backend = "torch"
    rect = True  # eager PyTorch takes any stride-aligned shape

    def __init__(self, weights: Path, *, device: str, precision: str = "fp32", entry=None, **kwargs) -> None:
        import torch

        if precision == "int8":
            raise ValueError("the torch backend runs fp32 (CPU) or fp16 (CUDA); int8 is OpenVINO's")
        half = precision == "fp16" and device.startswith("cuda")
        self._torch = torch
        self.model, names = load_torch_model(weights, device, half)
        self._dtype = torch.float16 if half else torch.float32
        super().__init__(names=names, device=device, precision="fp16" if half else "fp32", source=str(weights), **kwargs)
        self.overlap = device.startswith("cuda")

    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(canvas).to(self.device, non_blocking=True)
            x = x.permute(0, 3, 1, 2).flip(1).to(self._dtype).div_(255.0)
            y = self.model(x)
            y = y[0] if isinstance(y, (list, tuple)) else y
            return y.float().cpu().numpy()
