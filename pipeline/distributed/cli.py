"""``gridsight worker`` and ``gridsight reprocess``: archive jobs and live cameras at scale."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from gridsight.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("worker", help="run a worker: archive segments from Redis, live cameras by lease")
    w.add_argument("--concurrency", type=int, default=1, help="segments at once (processes, one detector each)")
    w.add_argument("--device", default="auto", help="cpu, cuda, cuda:N (default: settings)")
    w.add_argument("--detector", default=None, help="model name/path, or module:factory")
    w.add_argument("--cameras", default=None, help="camera config whose cameras this worker may watch")
    w.add_argument("--capacity", type=int, default=0, help="live cameras this worker watches at most")
    w.add_argument("--lease-ttl", type=float, default=15.0, help="camera lease TTL; failover within TTL*4/3")
    w.add_argument("--queue", default="gridsight")
    w.add_argument("--no-verify", action="store_true", help="leased cameras do not re-check resolved tickets")
    w.set_defaults(func=worker)

    r = sub.add_parser("reprocess", help="find incidents in archived footage (distributed, or --local)")
    r.add_argument("files", nargs="+", help="video files, played back to back")
    r.add_argument("--camera", required=True, help="camera id (zones from configs/cameras.yaml)")
    r.add_argument("--start-time", default=None, help="footage time of the first frame, ISO 8601 "
                   "(default: the first file's modification time)")
    r.add_argument("--local", action="store_true", help="run in this process, no Redis or workers")
    r.add_argument("--segment-s", type=float, default=None, help="segment length (default: settings)")
    r.add_argument("--warmup-s", type=float, default=None, help="warm-up before each segment")
    r.add_argument("--gate", action="store_true", help="motion gating (faster; keys may shift at cuts)")
    r.add_argument("--detector", default=None, help="--local only: model name/path, or module:factory")
    r.add_argument("--no-follow", action="store_true", help="submit and print the job id")
    r.set_defaults(func=reprocess)


def worker(args) -> int:
    if args.concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    if args.capacity and not args.cameras:
        raise UserError("--capacity needs --cameras FILE")
    if args.capacity and args.concurrency > 1:
        # live cameras load a detector in this process, and --concurrency > 1 forks children from it
        raise UserError("live cameras (--capacity) need --concurrency 1; run another worker process "
                        "for more archive segments at once")
    if args.cameras and not Path(args.cameras).is_file():
        raise UserError(f"{args.cameras}: no such camera config")
    _check_redis()
    from pipeline.distributed.worker import run_worker

    return run_worker(args.concurrency, args.device, args.detector, args.cameras, args.capacity, args.lease_ttl,
                      args.queue, verify=not args.no_verify)


def _check_redis() -> None:
    import redis

    from gridsight.settings import get_settings
    from gridsight.jobs import connect

    try:
        connect().ping()
    except redis.RedisError as exc:
        raise UserError(f"Redis at {get_settings().redis_url} is not reachable ({exc}); "
                        "start it or set GRIDSIGHT_REDIS_URL") from exc


def _start_time(args) -> str:
    if args.start_time:
        try:
            t = datetime.fromisoformat(args.start_time)
        except ValueError as exc:
            raise UserError(f"--start-time {args.start_time!r} is not ISO 8601") from exc
        if t.tzinfo is None:
            raise UserError("--start-time needs a timezone, e.g. 2026-11-28T08:00:00+08:00")
        return t.isoformat()
    return datetime.fromtimestamp(Path(args.files[0]).stat().st_mtime, timezone.utc).isoformat()


def _options(args) -> dict:
    opts = {"gate": bool(args.gate)}
    if args.segment_s is not None:
        opts["segment_s"] = args.segment_s
    if args.warmup_s is not None:
        opts["warmup_s"] = args.warmup_s
    return opts


def reprocess(args) -> int:
    files = [str(Path(f).resolve()) for f in args.files]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise UserError(f"{missing[0]}: no such file")
    start = _start_time(args)
    if args.local:
        from pipeline.distributed.local import run_local

        try:
            summary = run_local(files, args.camera, start, _options(args), detector=args.detector)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        print(f"{summary['frames']} frames in {summary['seconds']:.1f} s ({summary['fps']:.1f} frames/s), "
              f"{summary['incidents']} incidents, {summary['posts']} posts to the ticket API")
        return 0
    _check_redis()
    from gridsight.jobs import FINAL, JobStore
    from pipeline.distributed.tasks import plan_job

    store = JobStore()
    job_id = store.create(args.camera, [{"path": f, "name": Path(f).name} for f in files], start, _options(args))
    plan_job.delay(job_id)
    if args.no_follow:
        print(job_id)
        return 0
    return follow(store, job_id, FINAL)


def follow(store, job_id: str, final: tuple[str, ...]) -> int:
    from tqdm import tqdm

    bar = None
    try:
        while True:
            job = store.get(job_id)
            if job.frames_total and bar is None:
                bar = tqdm(total=job.frames_total, unit="frame", desc=f"job {job_id}", file=sys.stderr)
            if bar is not None:
                bar.n = job.frames_done
                bar.set_postfix(segments=f"{job.segments_committed}/{job.segments_total}", incidents=job.incidents)
                bar.refresh()
            if job.status in final:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        print(f"\nstill running; cancel with: curl -X POST .../api/v1/jobs/{job_id}/cancel", file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()
    if job.status != "done":
        raise UserError(f"job {job_id} {job.status}: {job.error or ''}".strip())
    print(f"job {job_id} done: {job.frames_total} frames, {job.segments_total} segments, {job.incidents} incidents")
    return 0
