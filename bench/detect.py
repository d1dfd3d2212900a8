"""Detection throughput: the naive Ultralytics loop vs our engine, per backend, batch and image size.

    .venv/bin/python bench/detect.py                     # the full table (a few minutes on 2 cores)
    .venv/bin/python bench/detect.py --quick             # imgsz 640, batch 1/8 only
    .venv/bin/python bench/detect.py --pause-pid-file /tmp/gridsight-train.pid   # pause a background job

Frames: the same list for every row, half 1920x1080 (sample footage upscaled: no 1080p clip is in the
data set), half 768x576 (opencv-doc's vtest.avi, native), decoded up front so decoding is not timed.
Each row runs in a fresh child process (its own peak RSS, no warm caches from another row):
load, 2 warm-up batches, then every frame through ``detect`` in ``batch``-sized calls (a scheduler
batching cameras would do the same). "CPU ms/frame" is the process's CPU time (all threads) per
frame: on a busy machine it moves less than wall time does. "naive" is what a user writes first:
``model = YOLO(w); for f in frames: model.predict(f, imgsz=640)`` (torch). "informed" is what a user
who knows the field writes: Ultralytics' own OpenVINO export of the same model and precision (the very
artefact our engine runs: the registry's prebuilt one or our export cache, so nothing is exported here),
``YOLO(".../x_openvino_model").predict(frame)`` per frame, and ``predict`` on a list of frames. The
head-to-head line runs the naive loop, the informed per-frame loop and our 640 px row with the least CPU
time per frame, each in its own process, taking turns of ``--turn`` frames (32), so background load on a
shared machine hits all alike and each is billed only its own threads' CPU time, and prints our frames per
CPU second against the informed user's (target >= 2.0x). ``--head-to-head`` runs only that line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import cpu_model, describe, gpu  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def bench_frames(n: int):
    import cv2
    import numpy as np

    from gridsight.settings import get_settings

    def read(path: Path, count: int):
        cap = cv2.VideoCapture(str(path))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or count
        out = []
        for idx in np.linspace(0, total - 1, count).astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(idx))
            ok, f = cap.read()
            if ok:
                out.append(f)
        return out

    footage = get_settings().data / "footage"
    src_hd = next((p for p in sorted(footage.glob("*.mp4"))), None) if footage.is_dir() else None
    rng = np.random.default_rng(0)
    hd = [cv2.resize(f, (1920, 1080)) for f in read(src_hd, n // 2)] if src_hd else []
    sd = read(VTEST, n - len(hd)) if VTEST.exists() else []
    if not hd and not sd:
        hd = [rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8) for _ in range(n // 2)]
        sd = [rng.integers(0, 255, (576, 768, 3), dtype=np.uint8) for _ in range(n - n // 2)]
    frames = [f for pair in zip(hd, sd) for f in pair] + hd[len(sd):] + sd[len(hd):]
    return frames[:n]


def child(spec: dict) -> dict:
    """One row, in this (fresh) process."""
    import gridsight  # noqa: F401

    frames = bench_frames(spec["frames"])
    t0 = time.perf_counter()
    if spec["kind"] == "naive":  # exactly what a user writes: nothing of ours but the offline set-up
        from ultralytics import YOLO

        model = YOLO(spec["weights"])
        run = lambda fs: [model.predict(f, imgsz=spec["imgsz"], verbose=False) for f in fs]  # noqa: E731
        batch, label = 1, "naive YOLO.predict loop"
    elif spec["kind"] == "informed":  # Ultralytics' own OpenVINO runtime on our artefact
        from ultralytics import YOLO

        model = YOLO(informed_model(spec), task="detect")
        batch = spec["batch"]
        run = lambda fs: [model.predict(fs[i] if batch == 1 else fs[i:i + batch], imgsz=spec["imgsz"],  # noqa: E731
                                        verbose=False) for i in range(0, len(fs), batch)]
        label = (f"informed: Ultralytics OpenVINO {spec['precision']}, predict "
                 + ("per frame" if batch == 1 else f"on lists of {batch} frames"))
    else:
        from models.detector import load_detector

        det = load_detector(spec["model"], backend=spec["backend"], device="cpu", imgsz=spec["imgsz"],
                            batch=spec["batch"], precision=spec.get("precision"),
                            prebuilt=spec.get("variant") != "export")
        batch = det.batch
        run = lambda fs: [det.detect(fs[i:i + batch]) for i in range(0, len(fs), batch)]  # noqa: E731
        made = " (our export)" if "/exports/" in det.source else " prebuilt" if det.source.endswith("_model") else ""
        label = f"{det.backend} {det.precision}{made}" + (" rect" if det.rect else " square")
    load_s = time.perf_counter() - t0
    run(frames[:2 * batch])  # warm-up
    cpu0, t = _cpu_s(), time.perf_counter()
    out = run(frames)
    wall, cpu = time.perf_counter() - t, _cpu_s() - cpu0
    n_boxes = sum(len(d) if spec["kind"] == "engine" else len(d.boxes) for r in out for d in r)
    return {**spec, "label": label, "fps": len(frames) / wall, "ms": 1000 * wall / len(frames), "load_s": load_s, "cpu_ms": 1000 * cpu / len(frames),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "boxes": n_boxes}


def informed_model(spec: dict) -> str:
    """The OpenVINO folder our engine runs for ``spec`` (prebuilt, or from our export cache, built there if missing)."""
    from models.export import artefact_for
    from models.registry import resolve_model

    return str(artefact_for(resolve_model(spec["model"]), "openvino", spec["precision"], spec["imgsz"], 1,
                            prebuilt=spec.get("variant") != "export").path)


def side(spec: dict) -> None:
    """One side of the head-to-head, in its own process: load, warm up, say ``ready`` (with what it
    runs), then run the chunk of frames each stdin line names and answer with the wall and CPU seconds
    it took (this process's threads only: a runtime's idle threads spinning after a call are billed to
    the side that left them, never to the next one)."""
    import gridsight  # noqa: F401

    frames = bench_frames(spec["frames"])
    b = spec["batch"]
    if spec["side"] == "ours":
        from models.detector import load_detector

        det = load_detector(spec["model"], backend=spec["backend"], device="cpu", imgsz=spec["imgsz"],
                            batch=spec["batch"], precision=spec.get("precision"), prebuilt=spec.get("variant") != "export")
        run, said = det.detect, {"backend": det.backend, "precision": det.precision, "source": det.source}
    else:
        from ultralytics import YOLO

        model = YOLO(spec["weights"]) if spec["side"] == "naive" else YOLO(spec["source"], task="detect")
        run = lambda chunk: [model.predict(f, imgsz=spec["imgsz"], verbose=False) for f in chunk]  # noqa: E731
        said = {}
    run(frames[:2 * b])  # warm-up
    print(MARK + json.dumps({"ready": True, **said}), flush=True)
    for line in sys.stdin:
        i, n = map(int, line.split())
        t, c = time.perf_counter(), _cpu_s()
        for j in range(i, i + n, b):
            run(frames[j:min(j + b, i + n)])
        print(MARK + json.dumps([time.perf_counter() - t, _cpu_s() - c]), flush=True)


MARK = "@@bench "  # the lines of a side's stdout meant for the parent (a library may print too)


class Side:
    def __init__(self, spec: dict, name: str, **extra) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--side", json.dumps({**spec, "side": name, **extra})],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
        self.spent = [0.0, 0.0]  # wall s, CPU s

    def answer(self):
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        raise RuntimeError(f"a head-to-head side exited with {self.proc.wait()}")

    def run(self, i: int, n: int) -> None:
        self.proc.stdin.write(f"{i} {n}\n")
        self.proc.stdin.flush()
        wall, cpu = self.answer()
        self.spent[0] += wall
        self.spent[1] += cpu

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def interleaved(spec: dict) -> dict:
    """Naive loop, informed loop and our engine, each in its own process, taking turns of ``turn`` frames
    (ours in ``batch``-sized calls): on a shared machine all meet the same background load, so their
    ratios are fair even when the absolute numbers move, and each side's CPU time (all its threads) is its
    own. A turn is long (a fraction of a second) so that a runtime's threads spinning idle after its
    turn, which every side pays, weigh little against its work, as in a process that never pauses."""
    sides = {"naive": Side(spec, "naive"), "ours": Side(spec, "ours")}
    try:
        sides["naive"].answer()
        ours = sides["ours"].answer()
        if ours["backend"] == "openvino":  # Ultralytics' own OpenVINO runtime on the artefact ours runs
            sides["informed"] = Side(spec, "informed", source=ours["source"])
            sides["informed"].answer()
        for _ in range(spec["rounds"]):
            for i in range(0, spec["frames"], spec["turn"]):
                for s in sides.values():
                    s.run(i, min(spec["turn"], spec["frames"] - i))
    finally:
        for s in sides.values():
            s.close()
    n = spec["frames"] * spec["rounds"]
    out = {f"{k}_fps": n / s.spent[0] for k, s in sides.items()}
    out.update({f"{k}_cpu_ms": 1000 * s.spent[1] / n for k, s in sides.items()})
    return {**spec, **out, "label": f"{ours['backend']} {ours['precision']}", "precision": ours["precision"]}


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         cwd=REPO)
    if out.returncode != 0:
        return {**spec, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_row(r: dict, naive_fps: float | None) -> str:
    name = "naive" if r["kind"] == "naive" else f"{r.get('backend', r['kind'])} {r.get('precision') or ''}".strip()
    if "error" in r:
        return f"| {name} | {r['imgsz']} | {r.get('batch', 1)} | error: {r['error'][:80]} | | | | | |"
    speed = f"{r['fps'] / naive_fps:.2f}x" if naive_fps else ""
    return (f"| {r['label'] if r['kind'] != 'naive' else 'naive (YOLO.predict per frame, torch)'} | {r['imgsz']} | "
            f"{r.get('batch', 1)} | {r['fps']:.1f} | {r['ms']:.1f} | {r['cpu_ms']:.0f} | {speed} | {r['rss_mb']:.0f} | "
            f"{r['boxes']} |")


class Paused:
    """SIGSTOP a background process (e.g. a training run) while timing; always SIGCONT it afterwards."""

    def __init__(self, pid_file: str | None) -> None:
        self.pid = None
        if pid_file and Path(pid_file).exists():
            try:
                self.pid = int(Path(pid_file).read_text().split()[0])
            except (ValueError, IndexError):
                self.pid = None

    @staticmethod
    def _stopped(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
        except (OSError, IndexError):
            return False

    def __enter__(self):
        if self.pid and self._stopped(self.pid):  # someone else paused it: leave it to them
            print(f"(pid {self.pid} is already paused; leaving it as it is)", file=sys.stderr)
            self.pid = None
        if self.pid:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, self._bail)
            try:
                os.kill(self.pid, signal.SIGSTOP)
                print(f"(paused pid {self.pid} while timing)", file=sys.stderr)
            except ProcessLookupError:
                self.pid = None
        return self

    def _bail(self, signum, frame):
        self.__exit__()
        sys.exit(128 + signum)

    def __exit__(self, *exc):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.pid = None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="coco")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--imgsz", default="640,320")
    ap.add_argument("--batch", default="1,4,8")
    ap.add_argument("--backends", default="openvino:int8,openvino:int8:export,openvino:fp32,onnx:fp32,torch:fp32",
                    help="backend:precision[:export] list (export: our export of the .pt, not the prebuilt artefact)")
    ap.add_argument("--rounds", type=int, default=3, help="head-to-head passes over the frames (naive vs best)")
    ap.add_argument("--turn", type=int, default=32, help="head-to-head: frames each side runs before the next")
    ap.add_argument("--quick", action="store_true", help="imgsz 640, batch 1 and 8")
    ap.add_argument("--head-to-head", action="store_true",
                    help="only the head-to-head, on the first --backends entry at 640 px and the largest --batch")
    ap.add_argument("--pause-pid-file", default=None, help="SIGSTOP this process while timing")
    ap.add_argument("--json", type=Path, help="also write every row here")
    args = ap.parse_args()
    if args.side:
        side(json.loads(args.side))
        return 0
    if not args.child:
        print(describe(), file=sys.stderr, flush=True)  # JSON stays alone on stdout
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(interleaved(spec) if spec["kind"] == "interleaved" else child(spec)))
        return 0
    if args.quick:
        args.imgsz, args.batch = "640", "1,8"
    sizes = [int(s) for s in args.imgsz.split(",")]
    batches = [int(b) for b in args.batch.split(",")]
    backends = [(b.split(":") + [None, None])[:3] for b in args.backends.split(",")]
    import gridsight  # noqa: F401
    from models.registry import resolve_model

    base = {"model": args.model, "frames": args.frames}
    weights = str(resolve_model(args.model).weights)
    print(f"# bench/detect.py: {args.frames} frames (half 1920x1080, half 768x576), model {args.model}, "
          f"{os.cpu_count()}-core {cpu_model()}, {gpu()}; load average {os.getloadavg()[0]:.1f}\n")
    rows = []
    if args.head_to_head:  # skip the table: the head-to-head on what the options name
        backend, precision, variant = backends[0]
        rows.append({**base, "kind": "engine", "backend": backend, "precision": precision, "imgsz": 640,
                     "batch": max(batches), "variant": variant, "cpu_ms": 0.0, "fps": 0.0,
                     "label": f"{backend} {precision or 'auto'}" + (" (our export)" if variant == "export" else "")})
        sizes = []
    with Paused(args.pause_pid_file):
        if sizes:
            print("| engine | imgsz | batch | frames/s | ms/frame | CPU ms/frame | vs naive | peak RSS MB | boxes |")
            print("|---|---|---|---|---|---|---|---|---|")
        for size in sizes:
            naive = run_child({**base, "kind": "naive", "imgsz": size, "weights": weights})
            rows.append(naive)
            naive_fps = naive.get("fps")
            print(fmt_row(naive, naive_fps), flush=True)
            for backend, precision, variant in backends:
                for b in batches:
                    r = run_child({**base, "kind": "engine", "backend": backend, "precision": precision, "imgsz": size,
                                   "batch": b, "variant": variant})
                    rows.append(r)
                    print(fmt_row(r, naive_fps), flush=True)
            for precision in dict.fromkeys(p for b_, p, v in backends if b_ == "openvino" and p and v != "export"):
                for b in sorted({1, max(batches)}):
                    r = run_child({**base, "kind": "informed", "precision": precision, "imgsz": size, "batch": b})
                    rows.append(r)
                    print(fmt_row(r, naive_fps), flush=True)
        ok = [r for r in rows if r["kind"] == "engine" and r["imgsz"] == 640 and "fps" in r]
        if ok and args.rounds > 0:
            best = min(ok, key=lambda r: r["cpu_ms"])  # CPU time per frame: steadier than fps on a busy machine
            spec = {k: best.get(k) for k in ("model", "frames", "backend", "precision", "imgsz", "batch", "variant")}
            h2h = run_child({**spec, "kind": "interleaved", "weights": weights, "rounds": args.rounds,
                             "turn": max(args.turn, spec["batch"])})
            rows.append(h2h)
            if "error" in h2h:
                print(f"\nhead-to-head failed: {h2h['error']}")
            else:
                print(f"\nhead-to-head at 640 px, one process per side taking turns of {h2h['turn']} frames, "
                      f"{args.rounds} x {args.frames} frames: naive {h2h['naive_fps']:.1f} frames/s, "
                      f"{best['label']} batch {spec['batch']} {h2h['ours_fps']:.1f} frames/s -> "
                      f"{h2h['ours_fps'] / h2h['naive_fps']:.2f}x (target >= 3.0x)")
                if "informed_fps" in h2h:
                    print(f"against the informed user (Ultralytics' OpenVINO {h2h['precision']} export, predict per "
                          f"frame): {h2h['informed_fps']:.1f} frames/s at {h2h['informed_cpu_ms']:.1f} CPU ms/frame, "
                          f"ours {h2h['ours_fps']:.1f} frames/s at {h2h['ours_cpu_ms']:.1f} CPU ms/frame -> "
                          f"{h2h['informed_cpu_ms'] / h2h['ours_cpu_ms']:.2f}x frames per CPU second, "
                          f"{h2h['ours_fps'] / h2h['informed_fps']:.2f}x frames/s (target >= 2.0x per CPU second)")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
