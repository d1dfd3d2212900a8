"""CLI: ``gridsight dataset prepare``, ``gridsight train``, ``gridsight ship-weights``, ``gridsight eval``."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from gridsight.errors import UserError
from gridsight.paths import DEFAULT_MANIFEST, REPO_ROOT

log = logging.getLogger("gridsight.train")

DEFAULT_WEIGHTS = REPO_ROOT / "models" / "weights" / "gridsight-yolo11n.pt"


def default_dataset_dir(name: str) -> Path:
    return Path.home() / ".cache" / "gridsight" / "datasets" / name


def register(subparsers) -> None:
    ds = subparsers.add_parser("dataset", help="prepare training datasets from manifests in datasets/")
    ds_sub = ds.add_subparsers(dest="dataset_command", metavar="ACTION")
    prep = ds_sub.add_parser("prepare", help="build the merged training set (writes outside the repo)")
    prep.add_argument("manifest", nargs="?", type=Path, default=DEFAULT_MANIFEST,
                      help=f"dataset manifest (default {DEFAULT_MANIFEST.relative_to(REPO_ROOT)})")
    prep.add_argument("--out", type=Path, default=None, help="output folder (default ~/.cache/gridsight/datasets/NAME)")
    prep.add_argument("--data", type=Path, default=None, help="shared data folder (default: settings `data`)")
    prep.add_argument("--no-teacher", action="store_true", help="skip the COCO teacher's pseudo-labels")
    prep.set_defaults(func=cmd_prepare)
    from models.review_export import register_export  # `dataset export`: a light module

    register_export(ds_sub)
    ds.set_defaults(func=lambda a: (ds.print_help(), 2)[1])

    tr = subparsers.add_parser("train", help="fine-tune the issue detector (resumable)")
    tr.add_argument("--data", type=Path, help="dataset yaml (default: the prepared default set's data.yaml)")
    tr.add_argument("--base", type=Path, default=None, help="start weights (default: DATA/weights/coco-yolo11n-rebuilt.pt)")
    tr.add_argument("--run-dir", type=Path, default=None, help="where checkpoints go (default ~/.cache/gridsight/runs/issues)")
    tr.add_argument("--epochs", type=int, default=None, help="planned epochs (default 12); with --resume: re-plan "
                    "a stopped run to this many epochs in total, its LR schedule recomputed")
    tr.add_argument("--imgsz", type=int, default=416)
    tr.add_argument("--batch", type=int, default=16)
    tr.add_argument("--freeze", type=int, default=0, help="freeze the first N layers (10 = YOLO11n backbone)")
    tr.add_argument("--close-mosaic", type=int, default=None, help="epochs at the end without mosaic (default: all)")
    tr.add_argument("--lr0", type=float, default=0.01, help="initial LR for --optimizer SGD or AdamW")
    tr.add_argument("--optimizer", default="auto", help="auto (AdamW at 0.002*5/(4+classes) for short runs), SGD, AdamW")
    tr.add_argument("--warmup-epochs", type=float, default=3.0,
                    help="LR warm-up (default 3); 0 when training on from trained weights")
    tr.add_argument("--repeat", action="append", default=[], metavar="SOURCE=N",
                    help="show SOURCE's training images N times per epoch, e.g. fire-smoke=3 (repeatable; with "
                    "--resume: the mix for the remaining epochs)")
    tr.add_argument("--repeat-class", action="append", default=[], metavar="CLASS=N",
                    help="show every training image with a CLASS box N times per epoch, e.g. bus=8 (repeatable; "
                    "keeps rare classes from being forgotten)")
    tr.add_argument("--device", default="cpu", help="cpu, 0 (first GPU), ...")
    tr.add_argument("--fraction", type=float, default=1.0, help="use this fraction of the training images")
    tr.add_argument("--save-period", type=int, default=-1, metavar="N",
                    help="also keep RUN/weights/epochK.pt every N epochs (to average the last ones with ship-weights)")
    tr.add_argument("--no-val", action="store_true", help="skip validation after each epoch")
    tr.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last.pt")
    tr.add_argument("--extra-data", type=Path, action="append", default=[], help="also train on this dataset, e.g. "
                    "a `gridsight dataset export` folder (repeatable; same classes as --data)")
    tr.set_defaults(func=cmd_train)

    sh = subparsers.add_parser("ship-weights", help="strip a checkpoint's optimizer state and copy it to models/weights/")
    sh.add_argument("checkpoint", type=Path, nargs="+", help="a checkpoint; several (of one run, e.g. its last "
                    "epochs' epochN.pt) are averaged parameter by parameter")
    sh.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    sh.add_argument("--blend", type=Path, default=None, help="interpolate with these weights (same classes), "
                    "e.g. the model the run started from")
    sh.add_argument("--alpha", type=float, default=1.0, help="with --blend: the checkpoint's share (0-1]")
    sh.add_argument("--layers", default=None, help="with --blend: interpolate only these layers, e.g. 0-10 (the "
                    "YOLO11n backbone); --blend may then have other classes, e.g. the COCO model")
    sh.set_defaults(func=cmd_ship)

    ev = subparsers.add_parser("eval", help="evaluate a model on a YOLO-format dataset (classes matched by name)")
    ev.add_argument("data_yaml", type=Path)
    ev.add_argument("--model", default=None, help="weights path or registry name (default: the registry default)")
    ev.add_argument("--imgsz", type=int, default=None, help="default: the model's registry imgsz, else settings")
    ev.add_argument("--classes", default=None, help="comma-separated class names to evaluate (default: all matched)")
    ev.add_argument("--conf", type=float, default=0.001)
    ev.add_argument("--batch", type=int, default=8)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    ev.set_defaults(func=cmd_eval)


def _data_dir(arg: Path | None) -> Path:
    from gridsight.settings import get_settings

    return Path(arg or get_settings().data)


def cmd_prepare(args: argparse.Namespace) -> int:
    from models.dataset_prep import load_manifest, prepare, ultralytics_teacher

    manifest = load_manifest(args.manifest)
    data_dir = _data_dir(args.data)
    if not data_dir.is_dir():
        raise UserError(f"shared data folder not found: {data_dir} (set GRIDSIGHT_DATA or --data)")
    out = args.out or default_dataset_dir(manifest.name)
    teacher = None
    if not args.no_teacher:
        t = manifest.teacher
        weights = Path(t.get("weights", "weights/coco-yolo11n-int8_openvino_model"))
        teacher = ultralytics_teacher(weights if weights.is_absolute() else data_dir / weights,
                                      int(t.get("imgsz", 640)), float(t.get("conf", 0.35)))
    report = prepare(manifest, data_dir, out, teacher)
    for split, s in report["splits"].items():
        print(f"{split:10s} {s['images']:5d} images  {s['by_source']}  boxes {s['boxes']}")
    print(f"teacher boxes: {report['teacher_boxes']}")
    print(f"prepared {out}  (train with: gridsight train --data {out / 'data.yaml'})")
    return 0


def _parse_repeat(values: list[str], flag: str = "--repeat", example: str = "SOURCE=N, e.g. fire-smoke=3") \
        -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        key, sep, n = v.partition("=")
        if not sep or not key.strip() or not n.strip().isdigit():
            raise UserError(f"{flag} {v!r}: expected {example}")
        out[key.strip()] = int(n)
    return out


def cmd_train(args: argparse.Namespace) -> int:
    import os
    import sys

    if "ultralytics" not in sys.modules:
        os.environ["YOLO_VERBOSE"] = "True"  # progress bars and per-epoch tables while training
    from models.train import Recipe, train

    data_dir = _data_dir(None)
    data = args.data or default_dataset_dir("gridsight-issues") / "data.yaml"
    run_dir = args.run_dir or Path.home() / ".cache" / "gridsight" / "runs" / "issues"
    repeat = _parse_repeat(args.repeat)
    repeat_class = _parse_repeat(args.repeat_class, "--repeat-class", "CLASS=N, e.g. bus=8")
    resume_data = None
    if args.extra_data or repeat or repeat_class:  # base + extras/repeats in one data yaml beside the run
        from models.review_export import combine

        data = combine(data, args.extra_data, Path(run_dir).expanduser().resolve().with_suffix(".data.yaml"), repeat,
                       repeat_class)
        resume_data = data if args.resume else None  # a resumed run trains on with the new mix
    recipe = Recipe(
        data=data, base=args.base or data_dir / "weights" / "coco-yolo11n-rebuilt.pt", run_dir=run_dir,
        epochs=args.epochs or 12, imgsz=args.imgsz, batch=args.batch, freeze=args.freeze,
        close_mosaic=(args.epochs or 12) if args.close_mosaic is None else args.close_mosaic, lr0=args.lr0,
        optimizer=args.optimizer, warmup_epochs=args.warmup_epochs,
        device=args.device, val=not args.no_val, fraction=args.fraction, save_period=args.save_period,
    )
    train(recipe, resume=args.resume, resume_epochs=args.epochs if args.resume else None, resume_data=resume_data)
    print(f"checkpoints in {Path(run_dir).expanduser() / 'weights'}")
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    from models.train import ship

    if (args.alpha != 1.0 or args.layers) and args.blend is None:
        raise UserError("--alpha and --layers need --blend WEIGHTS")
    dest = ship(args.checkpoint, args.out, args.blend, args.alpha, args.layers)
    print(f"shipped {dest} ({dest.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from models.evaluate import evaluate, format_table

    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    result = evaluate(args.data_yaml, model=args.model, imgsz=args.imgsz, classes=classes, conf=args.conf,
                      batch=args.batch, device=args.device)
    print(format_table(result))
    if args.json:
        print(json.dumps(result.as_json()))
    return 0
