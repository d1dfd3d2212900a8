"""Letterbox: the one place frames become model input.

Frames of any (mixed) sizes are resized keeping their aspect ratio and padded (grey 114, as
Ultralytics does, with the same rounding) onto a square ``imgsz`` canvas -- or, for models with
dynamic input shapes, the smallest stride-aligned rectangle that holds the batch -- all in one
uint8 BGR batch ``(B, H, W, 3)``. Backends turn that into their own input (OpenVINO does the
conversion inside its graph; torch and ONNX Runtime via :func:`to_nchw_float`), and
:func:`unletterbox` maps boxes back to source pixels.

>>> import numpy as np
>>> lb = letterbox_batch([np.zeros((720, 1280, 3), np.uint8)], 640)
>>> lb.canvas.shape, float(lb.gains[0]), lb.pads[0].tolist()
((1, 640, 640, 3), 0.5, [0.0, 140.0])
>>> unletterbox(np.array([[0, 140, 640, 500]], np.float32), lb.gains[0], lb.pads[0], (720, 1280)).tolist()
[[0.0, 0.0, 1280.0, 720.0]]
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

PAD_VALUE = 114
PARALLEL_MIN_FRAMES = 16  # big batches (GPU) letterbox in a thread pool; cv2 releases the GIL
_pool: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max(2, (os.cpu_count() or 2)), thread_name_prefix="letterbox")
    return _pool


@dataclass
class Letterboxed:
    canvas: np.ndarray  # (B, H, W, 3) uint8 BGR; H = W = imgsz unless rectangular
    gains: np.ndarray  # (B,) scale from source to canvas
    pads: np.ndarray  # (B, 2) left, top padding in canvas pixels
    shapes: list[tuple[int, int]]  # source (height, width) per frame


def check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        got = f"{type(frame).__name__} {getattr(frame, 'dtype', '')} {getattr(frame, 'shape', '')}"
        raise ValueError(f"a frame must be a BGR uint8 HxWx3 numpy array, got {got}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"empty frame of shape {frame.shape}")


def fitted_size(shape: tuple[int, int], imgsz: int) -> tuple[float, int, int]:
    """(gain, new width, new height) of a (h, w) frame scaled to fit an imgsz square."""
    h, w = shape
    r = min(imgsz / h, imgsz / w)
    return r, max(round(w * r), 1), max(round(h * r), 1)


def rect_shape(shapes: Sequence[tuple[int, int]], imgsz: int, stride: int = 32) -> tuple[int, int]:
    """The smallest (H, W), multiples of ``stride``, that holds every frame fitted into ``imgsz``:
    what Ultralytics' rectangular inference (``LetterBox(auto=True)``) feeds a dynamic-shape model."""
    sizes = [fitted_size(s, imgsz) for s in shapes]
    up = lambda v: min(imgsz, -(-v // stride) * stride)  # noqa: E731
    return up(max(nh for _, _, nh in sizes)), up(max(nw for _, nw, _ in sizes))


def letterbox_into(frame: np.ndarray, canvas: np.ndarray, imgsz: int | None = None) -> tuple[float, float, float]:
    """Resize ``frame`` to fit ``imgsz`` (default: the canvas side) and centre it in ``canvas`` (H, W, 3,
    pre-filled with the pad value); returns gain, left, top."""
    check_frame(frame)
    ch, cw = canvas.shape[:2]
    r, nw, nh = fitted_size(frame.shape[:2], imgsz or max(ch, cw))
    dw, dh = (cw - nw) / 2, (ch - nh) / 2
    left, top = round(dw - 0.1), round(dh - 0.1)
    if (nw, nh) != (frame.shape[1], frame.shape[0]):
        resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    else:
        resized = frame
    canvas[top:top + nh, left:left + nw] = resized
    return r, float(left), float(top)


def letterbox_batch(frames: Sequence[np.ndarray], imgsz: int, rect: bool = False) -> Letterboxed:
    """Letterbox ``frames`` into one uint8 batch: square ``imgsz`` canvases, or with ``rect`` the smallest
    stride-aligned rectangle that holds them all (for models with dynamic input shapes: a 16:9 frame at
    640 becomes 640x384, 40% fewer pixels to infer)."""
    n = len(frames)
    for f in frames:
        check_frame(f)
    h, w = rect_shape([f.shape[:2] for f in frames], imgsz) if rect else (imgsz, imgsz)
    canvas = np.empty((n, h, w, 3), np.uint8)
    canvas.fill(PAD_VALUE)
    gains = np.empty(n, np.float32)
    pads = np.empty((n, 2), np.float32)
    if n >= PARALLEL_MIN_FRAMES and (os.cpu_count() or 1) > 2:
        done = list(_threads().map(letterbox_into, frames, canvas, [imgsz] * n))
    else:
        done = [letterbox_into(frame, canvas[i], imgsz) for i, frame in enumerate(frames)]
    for i, (g, left, top) in enumerate(done):
        gains[i], pads[i, 0], pads[i, 1] = g, left, top
    return Letterboxed(canvas, gains, pads, [f.shape[:2] for f in frames])


def to_nchw_float(canvas: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 BGR NHWC -> contiguous RGB NCHW in [0, 1] (what a .pt/.onnx YOLO model takes)."""
    return cv2.dnn.blobFromImages(list(canvas), scalefactor=1 / 255.0, swapRB=True).astype(dtype, copy=False)


def unletterbox(xyxy: np.ndarray, gain: float, pad: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Canvas boxes -> source-frame pixels, clipped to the frame."""
    out = xyxy.astype(np.float32, copy=True)
    out[:, [0, 2]] -= pad[0]
    out[:, [1, 3]] -= pad[1]
    out /= gain
    h, w = shape
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out
