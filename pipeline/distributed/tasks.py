"""The Celery tasks of an archive job: plan it, run its segments, commit their incidents.

``plan_job``   probe every file (keyframes), cut segments, queue one ``run_segment`` each;
``run_segment`` run one segment through the pipeline (:mod:`.segment`), store its result once;
``commit_job`` fold stored results in segment order into incidents (:mod:`.stitch`) and post
               them to the ticket API; the job is done when the last segment is committed.

Every task can run twice (late acks: a killed worker's message is redelivered) and any number
of workers can run them at once; what makes that safe: the plan and each segment's result are
written once (SET NX), counters move only on that first write, one committer at a time holds
the job's commit lock, and posts carry deterministic ``(key, seq)`` so a repeated post changes
nothing at the ticket API.
"""

from __future__ import annotations

import logging
import os
import uuid

from gridsight.jobs import JobStore
from gridsight.queue import COMMIT_JOB, PLAN_JOB, RUN_SEGMENT
from pipeline.distributed.app import app
from pipeline.distributed.footage import FootageError, FootageInfo, probe
from pipeline.distributed.plan import Segment, plan_segments
from pipeline.distributed.segment import Cancelled, CameraSpec, SegmentRunner, load_job_detector
from pipeline.distributed.stitch import fold, new_state

log = logging.getLogger("gridsight.jobs")
COMMIT_RETRY_S = 5

_store: JobStore | None = None
_runner: SegmentRunner | None = None


def store() -> JobStore:
    global _store
    if _store is None:
        _store = JobStore()
    return _store


def runner() -> SegmentRunner:
    """This process's runner: one detector, loaded on first use (after any fork)."""
    global _runner
    if _runner is None:
        from gridsight.settings import get_settings
        from gridsight.issues import load_catalogue

        s = get_settings()
        detector = load_job_detector(os.environ.get("GRIDSIGHT_WORKER_DETECTOR") or None,
                                     os.environ.get("GRIDSIGHT_WORKER_DEVICE") or s.device)
        _runner = SegmentRunner(detector, load_catalogue(s.configs / "issues.yaml"), language=s.language)
    return _runner


def resolve_camera(camera_id: str, options: dict) -> CameraSpec:
    """The job's camera: inline in the options, else from ``configs/cameras.yaml``."""
    inline = options.get("camera")
    if inline:
        return CameraSpec(camera_id, float(inline.get("detect_fps", 2.0)), list(inline.get("zones") or []))
    from gridsight.settings import get_settings
    from gridsight.issues import find_camera, load_cameras

    path = options.get("cameras_config") or get_settings().configs / "cameras.yaml"
    return CameraSpec.from_camera(find_camera(load_cameras(path), camera_id))


def localize(spec: dict) -> str:
    """A local path for a job file: a server path as is, an object-store URL downloaded once."""
    if spec.get("path"):
        return str(spec["path"])
    from pipeline.distributed.fetch import fetch

    return fetch(spec["url"], spec.get("name") or "footage")


# --- plan ----------------------------------------------------------------------
def plan(job_id: str) -> list[Segment] | None:
    """Plan and queue a job's segments; None when the job failed (reason stored) or was cancelled."""
    st = store()
    job = st.get(job_id)
    if job is not None and job.status == "running" and st.plan(job_id):
        # a planner that died after planning: queue again whatever has no result yet
        segments = [Segment.from_dict(d) for d in st.plan(job_id)]
        _queue_missing(st, job_id, segments, job.options)
        return segments
    if job is None or not st.transition(job_id, "planning", ("queued", "planning")):
        return None
    try:
        camera = resolve_camera(job.camera_id, job.options)
    except (ValueError, OSError) as exc:
        st.fail(job_id, f"camera {job.camera_id!r}: {exc}")
        return None
    infos: list[FootageInfo] = []
    for i, spec in enumerate(job.files):
        try:
            infos.append(probe(localize(spec)))
        except (FootageError, OSError) as exc:
            st.fail(job_id, f"file {i + 1} ({spec.get('name') or spec.get('path') or 'upload'}): {exc}")
            return None
    opts = job.options
    from gridsight.settings import get_settings

    s = get_settings()
    segments = plan_segments(infos, float(opts.get("segment_s") or s.jobs_segment_s),
                             float(opts.get("warmup_s") if opts.get("warmup_s") is not None else s.jobs_warmup_s))
    st.save_plan(job_id, [sg.to_dict() for sg in segments], sum(i.frames for i in infos),
                 files=[i.to_dict() for i in infos], camera=vars(camera))
    if not st.transition(job_id, "running", ("planning",)):
        return None
    _queue_missing(st, job_id, segments, opts)
    return segments


def _queue_missing(st: JobStore, job_id: str, segments: list[Segment], opts: dict) -> None:
    for sg in segments:
        if st.result(job_id, sg.index) is None:
            run_segment.apply_async((job_id, sg.index), queue=opts.get("queue") or None)


@app.task(name=PLAN_JOB, acks_late=True)
def plan_job(job_id: str) -> int:
    try:
        segments = plan(job_id)
    except Exception as exc:  # e.g. the runner's rules do not load: say so on the job
        log.exception("planning failed", extra={"job": job_id})
        store().fail(job_id, f"planning failed: {type(exc).__name__}: {exc}")
        return 0
    return len(segments or [])


# --- segments --------------------------------------------------------------------
def execute(job_id: str, index: int, run: SegmentRunner | None = None) -> bool:
    """Run one segment unless its result is stored; True when a result is (now) stored."""
    st = store()
    if st.result(job_id, index) is not None:
        return True
    if st.status(job_id) != "running":
        return False
    seg = Segment.from_dict(st.plan(job_id)[index])
    info = FootageInfo.from_dict(st.file_info(job_id, seg.file_index))
    job = st.get(job_id)
    camera = CameraSpec(**st.camera(job_id))
    from datetime import datetime

    start_epoch = datetime.fromisoformat(job.start_time).timestamp()
    try:
        if job.files[seg.file_index].get("url"):  # this worker may not have the file yet
            info.path = localize(job.files[seg.file_index])
        result = (run or runner()).run(camera, seg, info, start_epoch, gate=bool(job.options.get("gate", False)),
                                       on_progress=lambda n: st.progress(job_id, index, n),
                                       should_stop=lambda: st.status(job_id) != "running")
    except Cancelled:
        return False
    except (FootageError, OSError) as exc:
        st.fail(job_id, f"segment {index} ({os.path.basename(seg.path)}): {exc}")
        return False
    except Exception as exc:  # a failed task is acknowledged: record why, or the job would hang
        log.exception("segment failed", extra={"job": job_id, "segment": index})
        st.fail(job_id, f"segment {index} ({os.path.basename(seg.path)}): {type(exc).__name__}: {exc}")
        return False
    wid = os.environ.get("GRIDSIGHT_WORKER_ID") or f"{os.uname().nodename}-{os.getpid()}"
    result["worker"] = wid
    if st.save_result(job_id, index, result):
        from pipeline.distributed.health import count_segment

        count_segment(st.r, wid, seg.frames, result["seconds"])
    return True


@app.task(name=RUN_SEGMENT, acks_late=True)
def run_segment(job_id: str, index: int) -> None:
    if execute(job_id, index):
        try_commit(job_id)


# --- commit ------------------------------------------------------------------------
class DeliveryError(Exception):
    """The ticket API is unreachable or busy; try again later."""


def deliver(posts: list[dict]) -> None:
    import base64

    from gridsight.settings import get_settings
    from pipeline.client import TicketClient

    if not posts:
        return
    s = get_settings()
    client = TicketClient(s.api_url, s.api_key)
    try:
        for p in posts:
            ev = p.get("evidence") or {}
            ann = base64.b64decode(ev["annotated"]) if ev.get("annotated") else None
            raw = base64.b64decode(ev["raw"]) if ev.get("raw") else None
            answer = client.post_incident(p["incident"], ann, raw)
            if answer.verdict == "retry":
                raise DeliveryError(answer.detail[:200])
            if answer.verdict == "rejected":
                log.error("ticket API rejected a job incident", extra={
                    "key": p["incident"]["key"], "status": answer.status, "body": answer.detail[:500]})
    finally:
        client.close()


def commit(job_id: str, deliver_fn=deliver) -> int:
    """Commit every stored result that follows the committed ones, in order; returns how many.
    Raises :class:`DeliveryError` (nothing skipped) when the ticket API cannot take them now."""
    st = store()
    done = 0
    while True:
        token = uuid.uuid4().hex
        if not st.lock_commit(job_id, token):
            return done  # another committer is at it; it re-checks before it leaves
        try:
            state = st.stitch_state(job_id) or {**new_state(), "committed": 0}
            total = len(st.plan(job_id))
            camera_id = st.r.hget(st.key(job_id), "camera_id")
            while state["committed"] < total:
                res = st.result(job_id, state["committed"])
                if res is None:
                    break
                posts = fold(state, res["incidents"], camera_id=camera_id, job_id=job_id)
                deliver_fn(posts)
                state["committed"] += 1
                st.advance(job_id, state["committed"], state)
                done += 1
            if total and state["committed"] >= total:
                st.transition(job_id, "done", ("running",))
        finally:
            st.unlock_commit(job_id, token)
        nxt = state["committed"]
        if nxt >= total or st.result(job_id, nxt) is None:
            return done


def try_commit(job_id: str) -> None:
    try:
        commit(job_id)
    except DeliveryError as exc:
        log.warning("ticket API unavailable, job commit retried later", extra={"job": job_id, "error": str(exc)})
        commit_job.apply_async((job_id,), countdown=COMMIT_RETRY_S)


@app.task(name=COMMIT_JOB, acks_late=True)
def commit_job(job_id: str) -> None:
    try_commit(job_id)
