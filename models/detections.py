"""Typed detector output: the core's :class:`~gridsight.issues.detections.Detections` (one value from
the detector to the HTTP edge; it lives in the core so the API and the pipeline judge the same value)."""

from gridsight.issues.detections import Detections

__all__ = ["Detections"]
