"""One detection value from the detector to the HTTP edge: :class:`Detections`, boxes in source pixels.

Vectorised numpy fields (as supervision's ``Detections``), one value per frame. The tracker adds
``track_ids``; zones and rules select rows by boolean masks or index arrays and keep the ids; the
value becomes dicts only at the HTTP edge (:meth:`Detections.to_list`).

>>> import numpy as np
>>> d = Detections(xyxy=np.array([[10, 20, 110, 220]], np.float32), scores=np.array([0.9], np.float32),
...                class_ids=np.array([5], np.int32), names={5: "bus"})
>>> d.class_names
['bus']
>>> len(d[d.scores > 0.5])
1
>>> d.with_track_ids([7]).to_list()[0]["track_id"]
7
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detections:
    xyxy: np.ndarray  # (N, 4) float32, x1 y1 x2 y2 in source-frame pixels
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int32, ids of the model that produced them
    names: dict[int, str] = field(default_factory=dict)  # class id -> class name (the model's)
    track_ids: np.ndarray | None = None  # (N,) int64 once a tracker has seen them

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.xyxy.shape != (n, 4) or self.class_ids.shape != (n,) or (
                self.track_ids is not None and self.track_ids.shape != (n,)):
            raise ValueError(f"inconsistent shapes: xyxy {self.xyxy.shape}, scores {self.scores.shape}, "
                             f"class_ids {self.class_ids.shape}"
                             + ("" if self.track_ids is None else f", track_ids {self.track_ids.shape}"))

    @classmethod
    def empty(cls, names: dict[int, str] | None = None) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), names or {})

    @classmethod
    def from_named(cls, xyxy, scores, class_names: list[str], track_ids=None) -> "Detections":
        """From per-row class names (ids numbered in order of first appearance)."""
        ids: dict[str, int] = {}
        class_ids = np.array([ids.setdefault(n, len(ids)) for n in class_names], np.int32)
        return cls(np.asarray(xyxy, np.float32).reshape(-1, 4), np.asarray(scores, np.float32).reshape(-1),
                   class_ids, {i: n for n, i in ids.items()},
                   None if track_ids is None else np.asarray(track_ids, np.int64).reshape(-1))

    def with_track_ids(self, track_ids) -> "Detections":
        return Detections(self.xyxy, self.scores, self.class_ids, self.names, np.asarray(track_ids, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index) -> "Detections":
        """Select by boolean mask, index array or slice; always returns Detections."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Detections(self.xyxy[index], self.scores[index], self.class_ids[index], self.names,
                          None if self.track_ids is None else self.track_ids[index])

    @property
    def class_names(self) -> list[str]:
        return [self.names.get(int(c), str(int(c))) for c in self.class_ids]

    @property
    def bottom_centers(self) -> np.ndarray:
        """(N, 2) bottom-centre points, where zones judge an object to stand."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def areas(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]).clip(0) * (self.xyxy[:, 3] - self.xyxy[:, 1]).clip(0)

    def of_classes(self, names: set[str] | list[str] | tuple[str, ...]) -> "Detections":
        wanted = set(names)
        return self[np.array([n in wanted for n in self.class_names], dtype=bool)]

    def to_list(self) -> list[dict]:
        """JSON-friendly: ``[{"class_id", "class_name", "score", "box": [x1, y1, x2, y2]}, ...]``, with
        ``"track_id"`` once tracked."""
        out = [{"class_id": int(c), "class_name": n, "score": round(float(s), 4),
                "box": [round(float(v), 1) for v in b]}
               for b, s, c, n in zip(self.xyxy, self.scores, self.class_ids, self.class_names)]
        if self.track_ids is not None:
            for d, t in zip(out, self.track_ids):
                d["track_id"] = int(t)
        return out
