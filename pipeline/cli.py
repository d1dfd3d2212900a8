"""``gridsight watch CONFIG`` (live cameras) and ``gridsight process VIDEO --camera ID`` (footage)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from gridsight.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--issues", type=Path, default=None, help="issue types and rules (default configs/issues.yaml)")
    common.add_argument("--model", default=None, help="model registry name or path (default GRIDSIGHT_MODEL)")
    common.add_argument("--api-url", default=None, help="ticket API (default GRIDSIGHT_API_URL)")
    common.add_argument("--outbox", type=Path, default=None, help="outbox file (default GRIDSIGHT_HOME/outbox.db)")
    common.add_argument("--no-deliver", action="store_true", help="find incidents but send nothing (dry run)")
    common.add_argument("--no-blur", action="store_true", help="do not blur bystanders in evidence")
    common.add_argument("--no-gate", action="store_true", help="detect every sampled frame (no motion gating)")
    common.add_argument("--drain", type=float, default=30.0, help="seconds to wait for the outbox to empty at the end")

    w = sub.add_parser("watch", parents=[common], help="watch the cameras of a config (live streams and files)",
                       description="Watch every camera in CONFIG (or those named by --camera) and deliver incidents "
                                   "to the ticket API. One status line per camera every --status seconds.")
    w.add_argument("config", type=Path, help="cameras YAML, e.g. configs/cameras.yaml")
    w.add_argument("--camera", action="append", default=[], help="only this camera id (repeatable)")
    w.add_argument("--status", type=float, default=5.0, help="seconds between status lines (0: none)")
    w.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until done / Ctrl-C)")
    w.add_argument("--start-time", default=None, help="footage start time (ISO 8601) for file cameras")
    w.add_argument("--no-verify", action="store_true", help="do not re-check the cameras of resolved tickets")
    w.add_argument("--verify-window", type=float, default=None,
                   help="seconds of footage re-watched after a resolve (default GRIDSIGHT_VERIFY_WINDOW_S, 60)")
    w.set_defaults(func=watch)

    p = sub.add_parser("process", parents=[common], help="process archived footage from one camera",
                       description="Run VIDEO (a video file, an image folder or an image) as camera ID: "
                                   "footage time is --start-time plus the frame's time in the file.")
    p.add_argument("video", type=Path, help="video file, image folder or image")
    p.add_argument("--camera", required=True, help="camera id in --config (its zones apply)")
    p.add_argument("--config", type=Path, default=None, help="cameras YAML (default configs/cameras.yaml)")
    p.add_argument("--start-time", default=None, help="ISO 8601 time of the first frame (default: file mtime)")
    p.add_argument("--fps", type=float, default=None, help="sampled frames/s (default: the camera's detect_fps)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=process)


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"--start-time {text!r} is not an ISO 8601 time, e.g. 2026-11-28T09:30:00+08:00") from None
    if dt.tzinfo is None:
        raise UserError(f"--start-time {text!r} needs a UTC offset (footage time is not guessed), e.g. "
                        f"{text}+08:00 or {text}Z")
    return dt.timestamp()


def _cameras(path: Path):
    from gridsight.issues import load_cameras

    try:
        return load_cameras(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _pipeline(args):
    from gridsight.settings import get_settings
    from gridsight.issues import load_catalogue
    from pipeline.runtime import Pipeline, PipelineOptions

    issues = args.issues or get_settings().configs / "issues.yaml"
    try:
        load_catalogue(issues)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return Pipeline(PipelineOptions(issues=issues, model=args.model, deliver=not args.no_deliver,
                                    api_url=args.api_url, outbox=args.outbox, blur_people=not args.no_blur,
                                    gate=not args.no_gate))


def _source(camera, url: str, start: float | None, fps: float | None = None):
    from pipeline.sources import open_source

    try:
        return open_source(url, camera.id, sample_fps=fps or camera.detect_fps, start_time=start)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"camera {camera.id}: {exc}") from None


def _finish(pipe, args) -> dict:
    pending = 0
    if pipe.outbox is not None:
        pipe.courier.stop(drain_s=args.drain)
        pending = pipe.outbox.counts()["pending"]
    pipe.close(drain_s=0)
    return {"pending": pending}


def _summary(pipe, end: dict) -> None:
    opened = sorted({e.key for e in pipe.events if e.event == "open"})
    print(f"incidents: {len(opened)} opened, {sum(1 for e in pipe.events if e.event == 'close')} closed")
    for key in opened:
        print(f"  {key}")
    if pipe.outbox is not None:
        where = pipe.courier.client.url
        made, taken = pipe.courier.created, pipe.courier.answered
        print(f"tickets: {len(made)} created, {len(taken - made)} already there (updated) by {where}")
        if end["pending"]:
            print(f"outbox: {end['pending']} message(s) still waiting for {where} (sent on the next run)")
        else:
            print(f"outbox: everything delivered to {where}")


def process(args) -> int:
    from gridsight.settings import get_settings
    from gridsight.issues import find_camera

    if not args.video.exists():
        raise UserError(f"{args.video}: no such file or folder")
    cams = _cameras(args.config or get_settings().configs / "cameras.yaml")
    try:
        camera = find_camera(cams, args.camera)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.fps is not None and args.fps <= 0:
        raise UserError("--fps must be > 0")
    start = parse_time(args.start_time)
    source = _source(camera, str(args.video), start, args.fps)
    if getattr(source, "live", False):
        raise UserError("process takes footage files; use `gridsight watch` for streams")
    pipe = _pipeline(args)
    proc = pipe.add_camera(camera, source)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=source.expected_samples, unit="frame", desc=camera.id, file=sys.stderr)
    try:
        done = 0
        while not pipe.wait(0.25):
            if bar is not None:
                bar.update(proc.stats.frames - done)
                done = proc.stats.frames
                bar.set_postfix(detected=proc.stats.detected, incidents=proc.stats.events, refresh=False)
        if bar is not None:
            bar.update(proc.stats.frames - done)
            bar.close()
    except KeyboardInterrupt:
        pipe.close(drain_s=0)
        raise
    if proc.stats.error:
        pipe.close(drain_s=0)
        raise UserError(f"{args.video}: {proc.stats.error}")
    end = _finish(pipe, args)
    print(f"{camera.id}: {proc.stats.frames} frames judged, {proc.stats.detected} detected")
    _summary(pipe, end)
    expected = source.expected_samples or 0
    if proc.stats.frames == 0:
        print(f"gridsight process: {args.video}: no frame could be read (an empty or truncated video)",
              file=sys.stderr)
        return 1
    if proc.stats.frames < 0.9 * expected:
        print(f"gridsight process: {args.video}: warning: judged {proc.stats.frames} of about {expected} frames "
              "(the video looks truncated)", file=sys.stderr)
    return 0


def status_line(proc, outbox_pending: int | None) -> str:
    h = proc.source.health
    st = proc.stats
    if st.done:
        state = "done" if not st.error else f"FAILED ({st.error})"
    elif proc.source.live:
        state = "online" if h.online else f"OFFLINE ({h.error or 'connecting'})"
    else:
        state = "running"
    last = "-" if h.last_frame_time is None else datetime.fromtimestamp(h.last_frame_time, timezone.utc).strftime("%H:%M:%S")
    parts = [f"{proc.camera.id:<16}", f"{state:<8}", f"last frame {last}"]
    if proc.source.live:
        parts += [f"in {h.fps:5.1f} fps", f"dropped {h.dropped}", f"reconnects {h.reconnects}"]
    rate = st.recent_fps() if proc.source.live else st.fps
    parts += [f"judged {rate:5.1f}/s", f"detected {st.detected}", f"open {len(proc.incidents.open_incidents())}"]
    if outbox_pending is not None:
        parts.append(f"outbox {outbox_pending}")
    return "  ".join(parts)


def watch(args) -> int:
    cams = _cameras(args.config)
    if args.camera:
        known = {c.id for c in cams}
        missing = [c for c in args.camera if c not in known]
        if missing:
            raise UserError(f"camera(s) {', '.join(missing)} not in {args.config}")
        cams = [c for c in cams if c.id in args.camera]
    start = parse_time(args.start_time)
    sources = [(c, _source(c, c.url, start)) for c in cams]
    pipe = _pipeline(args)
    procs = [pipe.add_camera(c, s) for c, s in sources]
    verifier = None
    if not (args.no_deliver or args.no_verify):  # the camera verifies every fix (pipeline/verify.py)
        from pipeline.verify import start_verifier

        verifier = start_verifier(procs, api_url=args.api_url, window_s=args.verify_window,
                                  blur_people=not args.no_blur)
    began = time.monotonic()
    next_status = began + args.status
    try:
        while not all(p.done for p in procs):
            time.sleep(0.2)
            now = time.monotonic()
            if args.status and now >= next_status:
                pending = pipe.outbox.counts()["pending"] if pipe.outbox is not None else None
                for p in procs:
                    print(status_line(p, pending), flush=True)
                next_status = now + args.status
            if args.duration and now - began >= args.duration:
                break
    except KeyboardInterrupt:
        print("stopping (incidents already found stay in the outbox)", file=sys.stderr)
    for p in procs:
        p.stop()
    if verifier is not None:
        verifier.stop()
    end = _finish(pipe, args)
    for p in procs:
        print(status_line(p, end["pending"] if pipe.outbox is not None else None))
    _summary(pipe, end)
    return 0
