"""``gridsight detect PATH...``: run the detector over images, folders and videos.

Prints a summary per input (or, with ``--json``, one JSON line per frame), saves annotated
images with ``--save DIR``. A bad input gets one line on stderr and the rest still run; the
exit code is 1 if any input failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from models import backends

PROGRESS_MIN_FRAMES = 30  # a progress bar only for inputs longer than this


def register(subparsers) -> None:
    p = subparsers.add_parser("detect", help="detect objects in images, folders and video files",
                              description="Detect objects in images, folders and video files.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image, video file or folder")
    p.add_argument("--json", action="store_true", help="one JSON line per frame on stdout")
    p.add_argument("--save", type=Path, metavar="DIR", help="write annotated images here")
    p.add_argument("--model", default=None, help="registry name (configs/models.yaml) or a .pt / "
                   "*_openvino_model / .onnx path (default: GRIDSIGHT_MODEL, then the registry default)")
    p.add_argument("--backend", default="auto", choices=["auto", *backends.names()])
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--precision", default=None, choices=["fp32", "fp16", "int8", "auto"],
                   help="default: the registry's choice for the backend; auto: the fastest measured here")
    p.add_argument("--imgsz", type=int, default=None, help="input size, a multiple of 32")
    p.add_argument("--conf", type=float, default=None, help="minimum score (default GRIDSIGHT_CONF)")
    p.add_argument("--iou", type=float, default=None, help="NMS IoU threshold (default GRIDSIGHT_IOU)")
    p.add_argument("--batch", type=int, default=None, help="frames per inference batch (default GRIDSIGHT_BATCH)")
    p.add_argument("--classes", default=None, help="comma-separated class names to keep, e.g. person,car")
    p.add_argument("--vid-stride", type=int, default=1, help="detect every Nth video frame")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_detect)


def cmd_detect(args: argparse.Namespace) -> int:
    from gridsight.errors import UserError
    from models.detector import load_detector
    from models.media import expand_inputs

    if args.vid_stride < 1:
        raise UserError("--vid-stride must be at least 1")
    if args.batch is not None and args.batch < 1:
        raise UserError("--batch must be at least 1")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    try:
        det = load_detector(args.model, backend=args.backend, device=args.device, imgsz=args.imgsz, conf=args.conf,
                            iou=args.iou, batch=args.batch, classes=classes, precision=args.precision)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    items = expand_inputs(args.paths)
    if not items:
        raise UserError(f"no images or videos in {', '.join(map(str, args.paths))}")
    run = DetectRun(det, args)
    run.process(items)
    run.report()
    return 1 if run.failed or not run.summaries else 0


class DetectRun:
    """Frames from every input, detected in batches, written out in input order."""

    def __init__(self, det, args: argparse.Namespace) -> None:
        self.det = det
        self.args = args
        self.chunk = max(det.batch, 8)  # frames handed to detect() at once (async backends keep them in flight)
        self.failed: list[str] = []
        self.summaries: dict[str, list] = {}  # source -> [frames, Counter, top detections of the first frame]
        self.saved_names: set[str] = set()

    def process(self, items) -> None:
        from tqdm import tqdm

        from models.media import MediaError, video_frame_count

        expected = {id(m): max(1, video_frame_count(m.path) // self.args.vid_stride) if m.kind == "video" else 1
                    for m in items if m.kind != "missing"}
        total = sum(expected.values())
        bar = tqdm(total=total, unit="frame", file=sys.stderr, leave=False, dynamic_ncols=True,
                   disable=self.args.no_progress or total < PROGRESS_MIN_FRAMES or not sys.stderr.isatty())
        pending: list[tuple] = []
        for media in items:
            read = 0
            try:
                for idx, frame in self._frames(media):
                    read += 1
                    pending.append((media, idx, frame))
                    if len(pending) >= self.chunk:
                        self._detect(pending, bar)
                        pending = []
                if media.kind == "video" and read == 0:
                    raise MediaError("no frame could be read (an empty or truncated video)")
            except MediaError as exc:
                self._fail(media.path, str(exc))
                continue
            if media.kind == "video" and read < 0.9 * expected[id(media)]:
                print(f"gridsight detect: {media.path}: warning: read {read} of {expected[id(media)]} frames "
                      "(the video looks truncated)", file=sys.stderr, flush=True)
        if pending:
            self._detect(pending, bar)
        bar.close()

    def _frames(self, media):
        from models.media import MediaError, read_image, read_video

        if media.kind == "missing":
            raise MediaError("no such file or directory")
        if media.kind == "video":
            yield from read_video(media.path, self.args.vid_stride)
        else:
            try:
                yield 0, read_image(media.path)
            except MediaError as exc:
                if media.kind == "unknown" and str(exc).startswith("not an image"):
                    raise MediaError("not an image or a supported video") from None
                raise

    def _fail(self, path: Path, reason: str) -> None:
        self.failed.append(str(path))
        print(f"gridsight detect: {path}: {reason}", file=sys.stderr, flush=True)

    def _detect(self, pending: list[tuple], bar) -> None:
        results = self.det.detect([f for _, _, f in pending])
        for (media, idx, frame), dets in zip(pending, results):
            self._emit(media, idx, frame, dets)
        bar.update(len(pending))

    def _emit(self, media, idx: int, frame, dets) -> None:
        src = str(media.path)
        if self.args.json:
            h, w = frame.shape[:2]
            doc = {"source": src, "frame": idx, "width": w, "height": h, "detections": dets.to_list()}
            sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        s = self.summaries.setdefault(src, [0, Counter(), None])
        s[0] += 1
        s[1].update(dets.class_names)
        if s[2] is None:
            s[2] = dets
        if self.args.save:
            self._save(media, idx, frame, dets)

    def _save(self, media, idx: int, frame, dets) -> None:
        import cv2

        from gridsight.evidence import draw_subjects
        from gridsight.settings import get_settings

        stem = media.path.stem if media.kind != "video" else f"{media.path.stem}_{idx:06d}"
        name, n = f"{stem}.jpg", 1
        while name in self.saved_names and idx == 0:  # two inputs with the same name
            n += 1
            name = f"{stem}-{n}.jpg"
        self.saved_names.add(name)
        cv2.imwrite(str(self.args.save / name), draw_subjects(frame, dets.to_list(), language=get_settings().language))

    def report(self) -> None:
        out = sys.stderr if self.args.json else sys.stdout
        for src, (frames, counts, first) in self.summaries.items():
            found = ", ".join(f"{n} {c}" for c, n in counts.most_common()) or "nothing"
            if frames == 1:
                scores = ", ".join(f"{c} {s:.2f}" for c, s in zip(first.class_names, first.scores))
                print(f"{src}: {found}" + (f"  ({scores})" if scores else ""), file=out)
            else:
                print(f"{src}: {frames} frames; {found}", file=out)
        if self.failed:
            print(f"gridsight detect: {len(self.failed)} of {len(self.failed) + len(self.summaries)} inputs failed",
                  file=sys.stderr)
