"""``gridsight reprocess --local``: the same job in this process, no Redis, no workers.

Each file is one segment (no cuts, no warm-up), folded and delivered exactly as the
distributed path does, so this is also the single-process reference a distributed job is
compared with (tests/jobs, bench/jobs.py).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from pipeline.distributed.footage import FootageError, probe
from pipeline.distributed.plan import plan_segments
from pipeline.distributed.segment import SegmentRunner, load_job_detector
from pipeline.distributed.stitch import fold, new_state


def run_local(files: list[str], camera_id: str, start_time: str, options: dict, *, detector=None,
              deliver_fn=None, runner: SegmentRunner | None = None) -> dict:
    from gridsight.settings import get_settings
    from pipeline.distributed.tasks import deliver, resolve_camera
    from gridsight.issues import load_catalogue

    s = get_settings()
    camera = resolve_camera(camera_id, options)
    try:
        infos = [probe(f) for f in files]
    except FootageError as exc:
        raise ValueError(str(exc)) from exc
    own = runner is None
    if own:
        det = detector if detector is not None and not isinstance(detector, str) else load_job_detector(detector)
        runner = SegmentRunner(det, load_catalogue(s.configs / "issues.yaml"), language=s.language)
    deliver_fn = deliver_fn or deliver
    job_id = options.get("job_id") or f"local-{uuid.uuid4().hex[:10]}"
    start_epoch = datetime.fromisoformat(start_time).timestamp()
    state, posts, frames = new_state(), 0, 0
    started = time.perf_counter()
    try:
        for seg in plan_segments(infos, segment_s=1e12, warmup_s=0):
            res = runner.run(camera, seg, infos[seg.file_index], start_epoch, gate=bool(options.get("gate", False)))
            out = fold(state, res["incidents"], camera_id=camera_id, job_id=job_id)
            deliver_fn(out)
            posts += len(out)
            frames += seg.frames
    finally:
        if own:
            runner.close()
    seconds = time.perf_counter() - started
    return {"job_id": job_id, "frames": frames, "seconds": seconds, "fps": frames / max(seconds, 1e-9),
            "incidents": len(state["keys"]), "posts": posts, "keys": sorted(state["keys"])}
