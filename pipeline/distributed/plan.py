"""Segment planning: a job's footage cut into keyframe-aligned time segments.

Each segment *owns* the frames ``[start, end)``; both ends sit on keyframes (or the file's
ends), so neighbouring segments never decode the same group of pictures for their own frames.
Before ``start`` a segment also runs ``warmup_s`` seconds of *warm-up* frames
(``warmup_from``): trackers, dwell timers and rule persistence rebuild their state there, and
what happens in warm-up is only kept when it is still going on at ``start`` (see
:mod:`pipeline.distributed.stitch`). Warm-up should cover the longest ``persistence_s +
dwell_s`` of the camera's rules; the segment length should be ten times that or more so the
repeated warm-up costs under 10%.

>>> from pipeline.distributed.footage import FootageInfo
>>> info = FootageInfo("a.avi", 795, 10.0, 768, 576, [i / 10 for i in range(795)], [0, 250, 500, 750])
>>> [(s.start, s.end, s.warmup_from) for s in plan_segments([info], segment_s=30, warmup_s=5)]
[(0, 250, 0), (250, 500, 200), (500, 795, 450)]
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass

from pipeline.distributed.footage import FootageInfo


@dataclass(frozen=True)
class Segment:
    index: int  # position in the job, footage order across files
    file_index: int
    path: str
    start: int  # first owned frame (a keyframe)
    end: int  # one past the last owned frame
    warmup_from: int  # first frame processed (start minus the warm-up, clipped to the file)
    offset_s: float  # footage seconds of the file's frame 0 from the job's start time
    start_s: float  # footage seconds (from the job's start) of ``start``
    end_s: float  # footage seconds of ``end`` (the next segment's start, or the file's end)

    @property
    def frames(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Segment":
        return cls(**d)


def _cut_points(info: FootageInfo, segment_s: float) -> list[int]:
    """Keyframes closest to every multiple of ``segment_s`` (at least one GOP apart)."""
    cuts = [0]
    keys = info.keyframes
    key_times = [info.times[k] for k in keys]
    target = segment_s
    while target < info.duration_s:
        j = bisect.bisect_left(key_times, target)
        near = [c for c in (j - 1, j) if 0 <= c < len(keys)]
        k = keys[min(near, key=lambda c: abs(key_times[c] - target))] if near else None
        if k is not None and k > cuts[-1] and info.duration_s - info.times[k] >= segment_s / 4:
            cuts.append(k)
        target = max(target + segment_s, (info.times[cuts[-1]] if cuts else 0) + segment_s / 2)
    return cuts


def plan_segments(files: list[FootageInfo], segment_s: float = 600.0, warmup_s: float = 10.0) -> list[Segment]:
    """Segments of ``files`` played back to back (each file starts where the previous ended)."""
    if segment_s <= 0 or warmup_s < 0:
        raise ValueError("segment_s must be positive and warmup_s not negative")
    out: list[Segment] = []
    offset = 0.0
    for fi, info in enumerate(files):
        cuts = _cut_points(info, segment_s) + [info.frames]
        for a, b in zip(cuts, cuts[1:]):
            wf = bisect.bisect_left(info.times, info.times[a] - warmup_s - 1e-6) if a else 0
            end_s = info.times[b] if b < info.frames else info.duration_s
            out.append(Segment(len(out), fi, info.path, a, b, min(wf, a), offset,
                               round(offset + info.times[a], 6), round(offset + end_s, 6)))
        offset += info.duration_s
    return out
