"""Learning from reviews: ``gridsight dataset export --since DATE OUT`` writes a YOLO dataset from
the detections operators reviewed in the ticket API, and :func:`combine` trains it alongside
the base dataset (``gridsight train --extra-data OUT``).

What goes in, per reviewed ticket (its **raw** evidence frame, never the annotated one):

* confirmed -> the ticket's detections as labels (class by name into the dataset's class list);
* rejected ``wrong_class`` with ``correct_class`` -> the same boxes, labelled with the right class;
* rejected ``not_a_problem`` or ``wrong_class`` (no correction) -> a hard negative: the image with
  an empty label file (``--hard-negatives wrong_class`` keeps only the second: a "not a problem"
  frame may show a correctly detected object in a situation that is fine, e.g. a permitted van);
* rejected ``duplicate`` (a real problem, reported twice) and ``privacy`` (must not be kept) are
  left out, and so are tickets without a raw frame. ``report.json`` counts every case.

Where it reads from: the ticket API over HTTP (``GET /api/v1/reviews`` and the evidence
endpoint), with any reader key -- not the database and object store directly. ``models/`` never
imports ``api/``; the API applies the caller's scope and owns the store's credentials; and the
export works against a remote deployment from the training machine with only a URL and a key.

``manifest.jsonl`` says where each image came from (ticket number, review, camera, zone, object
key and SHA-256). Images are split train/val by a stable hash of the ticket number.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path

import yaml

from gridsight.errors import UserError

log = logging.getLogger("gridsight.dataset")
NEGATIVE_REASONS = ("not_a_problem", "wrong_class")  # the rejections that may become hard negatives
LEFT_OUT = ("duplicate", "privacy")
SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def parse_since(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"--since {text!r} is not a date, e.g. 2026-11-01 or 2026-11-01T08:00:00+08:00") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def class_names(names_from: Path | None) -> list[str]:
    """The class list labels are written in: a data yaml's ``names``, or the default manifest's."""
    if names_from is None:
        from models.dataset_prep import load_manifest
        from gridsight.paths import DEFAULT_MANIFEST

        return load_manifest(DEFAULT_MANIFEST).names
    try:
        names = (yaml.safe_load(Path(names_from).read_text(encoding="utf-8")) or {}).get("names")
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read class names from {names_from}: {exc}") from None
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not names:
        raise UserError(f"{names_from} has no `names`")
    return [str(n) for n in names]


def labels_for(item: dict, names: list[str], width: int, height: int,
               negatives: tuple[str, ...] = NEGATIVE_REASONS) -> tuple[list[str] | None, str, int]:
    """(YOLO label lines or None to leave the image out, what it is, boxes of unknown classes).
    ``negatives``: the rejection reasons whose frames become hard negatives (others are left out)."""
    verdict, reason = item["verdict"], item.get("reason")
    if verdict == "rejected" and reason in LEFT_OUT:
        return None, f"left out ({reason})", 0
    if verdict == "rejected" and not (reason == "wrong_class" and item.get("correct_class")):
        if reason not in negatives:
            return None, f"left out ({reason})", 0
        return [], "hard negative", 0
    lines, unknown = [], 0
    for d in item.get("detections") or []:
        name = item["correct_class"] if verdict == "rejected" else d["class_name"]
        if name not in names:
            unknown += 1
            continue
        x1, y1, x2, y2 = (float(v) for v in d["box"])
        x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
        y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        lines.append(f"{names.index(name)} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                     f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    if not lines:
        return None, "left out (no box of a known class)", unknown
    return lines, "relabelled" if verdict == "rejected" else "confirmed", unknown


def _prepare_out(out: Path) -> Path:
    """A fresh ``OUT.partial`` folder to write into; ``OUT`` itself is replaced only at the end."""
    if out.exists() and any(out.iterdir()) and not (out / "manifest.jsonl").exists():
        raise UserError(f"{out} exists and is not a review export; choose another OUT")
    work = out.with_name(out.name + ".partial")
    if work.exists():
        shutil.rmtree(work)
    for split in ("train", "val"):
        (work / "images" / split).mkdir(parents=True, exist_ok=True)
        (work / "labels" / split).mkdir(parents=True, exist_ok=True)
    return work


def _swap(work: Path, out: Path) -> None:
    """The finished export takes OUT's place (a previous export there is removed only now)."""
    if out.exists():
        shutil.rmtree(out)
    work.rename(out)


def export_reviews(api_url: str, api_key: str, since: datetime, out: Path, *, names: list[str],
                   val_fraction: float = 0.2, http=None, page: int = 500,
                   negatives: tuple[str, ...] = NEGATIVE_REASONS) -> dict:
    """Write the dataset under ``out`` (a previous export there is replaced once the new one is
    complete; a failed export leaves it as it was). Returns the report."""
    import httpx
    from PIL import Image

    from models.dataset_prep import is_holdout

    out = Path(out).expanduser()
    client = http or httpx.Client(base_url=api_url.rstrip("/"), timeout=60, trust_env=False,
                                  headers={"X-API-Key": api_key} if api_key else {})
    report: dict = {"api": api_url, "since": since.isoformat(), "classes": names, "images": {"train": 0, "val": 0},
                    "kinds": {}, "boxes": {}, "unknown_class_boxes": 0}
    final, out = out, _prepare_out(out)  # written under OUT.partial, moved to OUT when complete
    after_id = 0
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        while True:
            r = _get(client, "/api/v1/reviews", params={"since": since.isoformat(), "after_id": after_id,
                                                        "limit": page})
            body = r.json()
            for item in body["items"]:
                raw = item.get("raw")
                if raw is None:
                    _count(report["kinds"], "left out (no raw frame)")
                    continue
                data = _get(client, raw["url"]).content
                if raw.get("sha256") and hashlib.sha256(data).hexdigest() != raw["sha256"]:
                    raise UserError(f"ticket {item['number']}: the raw frame's SHA-256 does not match the ticket's")
                try:
                    with Image.open(io.BytesIO(data)) as im:
                        width, height = im.size
                except OSError:
                    _count(report["kinds"], "left out (unreadable image)")
                    continue
                lines, kind, unknown = labels_for(item, names, width, height, negatives)
                report["unknown_class_boxes"] += unknown
                _count(report["kinds"], kind)
                if lines is None:
                    continue
                split = "val" if is_holdout(item["number"], val_fraction) else "train"
                stem = item["number"]
                image = out / "images" / split / (stem + SUFFIX.get(raw.get("content_type", ""), ".jpg"))
                image.write_bytes(data)
                (out / "labels" / split / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
                report["images"][split] += 1
                for line in lines:
                    _count(report["boxes"], names[int(line.split()[0])])
                manifest.write(json.dumps({
                    "image": str(image.relative_to(out)), "split": split, "kind": kind, "boxes": len(lines),
                    "ticket_id": item["ticket_id"], "number": item["number"], "review_id": item["review_id"],
                    "verdict": item["verdict"], "reason": item.get("reason"), "correct_class": item.get("correct_class"),
                    "reviewer": item.get("reviewer"), "reviewed_at": item.get("reviewed_at"),
                    "issue_type": item.get("issue_type"), "source": item.get("source"),
                    "camera_id": item.get("camera_id"), "zone_id": item.get("zone_id"),
                    "detected_at": item.get("detected_at"), "object_key": raw["object_key"],
                    "sha256": hashlib.sha256(data).hexdigest()}, ensure_ascii=False) + "\n")
            if body.get("next_after_id") is None:
                break
            after_id = body["next_after_id"]
    val = "images/val" if report["images"]["val"] else "images/train"
    doc = {"path": str(final.resolve()), "train": "images/train", "val": val, "names": dict(enumerate(names))}
    (out / "data.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    _swap(out, final)
    return report


def _get(client, url: str, **kw):
    import httpx

    try:
        r = client.get(url, **kw)
    except httpx.HTTPError as exc:
        raise UserError(f"ticket API unreachable at {client.base_url}: {exc}") from None
    if r.status_code in (401, 403):
        raise UserError(f"the ticket API refused the key ({r.status_code}): export needs a reader key "
                        "(e.g. `gridsight api create-key trainer --role viewer`)")
    if r.status_code >= 400:
        raise UserError(f"ticket API answered {r.status_code} for {url}: {r.text[:300]}")
    return r


def _count(d: dict, key: str) -> None:
    d[key] = d.get(key, 0) + 1


# --- training alongside the base dataset ------------------------------------------------------

def _split_dirs(doc: dict, root: Path, key: str) -> list[str]:
    value = doc.get(key)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(p if (p := Path(v)).is_absolute() else (root / p).resolve()) for v in values]


def _images_with_class(train: list[str], root: Path, base: Path, class_id: int) -> list[str]:
    """The training images (of folders or lists) whose YOLO label file has a box of ``class_id``."""
    from models.evaluate import label_path, split_images

    found, prefix = [], f"{class_id} "
    for img in dict.fromkeys(split_images(train, root, base)):
        try:
            if any(line.startswith(prefix) for line in label_path(img).read_text(encoding="utf-8").splitlines()):
                found.append(str(img))
        except OSError:
            continue  # an image without a label file has no box of any class
    return found


def _load(path: Path) -> tuple[dict, Path, list[str]]:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read dataset yaml {path}: {exc}") from None
    root = Path(doc.get("path") or Path(path).parent)
    if not root.is_absolute():
        root = (Path(path).parent / root).resolve()
    names = doc.get("names") or []
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    return doc, root, [str(n) for n in names]


def combine(base: Path, extras: list[Path], dest: Path, repeat: dict[str, int] | None = None,
            repeat_class: dict[str, int] | None = None) -> Path:
    """A data yaml at ``dest`` that trains on ``base`` plus every extra (a review export folder or
    its data.yaml) and validates on all their val splits. The class lists must be the same.

    ``repeat``: source name -> N, that source's training images N times per epoch (its
    ``train-SOURCE.txt`` list, written by ``gridsight dataset prepare``, added N - 1 more times).
    ``repeat_class``: class name -> N, every base training image with a box of that class N times
    per epoch (a list written beside ``dest``): rare classes (a bus in a few street photos) stay
    in view while the mix leans on others."""
    doc, root, names = _load(base)
    train, val = _split_dirs(doc, root, "train"), _split_dirs(doc, root, "val")
    base_train = list(train)
    for source, times in (repeat or {}).items():
        lst = root / f"train-{source}.txt"
        if not lst.is_file():
            known = sorted(p.stem.removeprefix("train-") for p in root.glob("train-*.txt"))
            raise UserError(f"--repeat {source}: {base} has no training list for that source "
                            f"(sources: {', '.join(known) or 'none; prepare the set again'})")
        if times < 1:
            raise UserError(f"--repeat {source}={times}: N must be 1 or more")
        train += [str(lst)] * (times - 1)
    for name, times in (repeat_class or {}).items():
        if name not in names:
            raise UserError(f"--repeat-class {name}: no such class in {base} (classes: {', '.join(names)})")
        if times < 1:
            raise UserError(f"--repeat-class {name}={times}: N must be 1 or more")
        with_class = _images_with_class(base_train, root, base, names.index(name))
        if not with_class:
            raise UserError(f"--repeat-class {name}: no training image of {base} has a {name} box")
        lst = dest.with_name(f"{dest.stem}.class-{name.replace(' ', '_')}.txt")
        lst.parent.mkdir(parents=True, exist_ok=True)
        lst.write_text("".join(f"{p}\n" for p in with_class), encoding="utf-8")
        train += [str(lst)] * (times - 1)
    for extra in extras:
        extra = Path(extra)
        yml = extra / "data.yaml" if extra.is_dir() else extra
        if not yml.is_file():
            raise UserError(f"--extra-data {extra}: no data.yaml (make one with `gridsight dataset export`)")
        edoc, eroot, enames = _load(yml)
        if enames != names:
            raise UserError(f"--extra-data {extra} has classes {enames}; the base dataset {base} has {names}: "
                            f"export again with --names-from {base}")
        train += _split_dirs(edoc, eroot, "train")
        val += [v for v in _split_dirs(edoc, eroot, "val") if v not in train]
    out = {"path": str(root), "train": train, "val": val, "names": dict(enumerate(names))}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(out, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


# --- CLI ------------------------------------------------------------------------------------------

def register_export(dataset_sub) -> None:
    """``gridsight dataset export``: added to the ``dataset`` subcommands of models/train_cli.py."""
    ex = dataset_sub.add_parser("export", help="a YOLO dataset from operators' reviews in the ticket API",
                                description="Confirmed detections become labels, rejected ones hard negatives "
                                            "(raw frames only). Reads the ticket API with a reader key.")
    ex.add_argument("out", type=Path, help="output folder (a previous export there is replaced)")
    ex.add_argument("--since", required=True, help="reviews made on or after this date (ISO 8601)")
    ex.add_argument("--api-url", default=None, help="ticket API (default GRIDSIGHT_API_URL)")
    ex.add_argument("--api-key", default=None, help="a reader key (default GRIDSIGHT_EXPORT_KEY, else "
                                                    "GRIDSIGHT_API_KEY)")
    ex.add_argument("--names-from", type=Path, default=None, help="class list of this data yaml (default: the "
                                                                  "datasets/gridsight-issues.yaml classes)")
    ex.add_argument("--val-fraction", type=float, default=0.2, help="share of tickets held out for validation")
    ex.add_argument("--hard-negatives", choices=("all", "wrong_class", "none"), default="all",
                    help="which rejections become hard negatives: all (not_a_problem and wrong_class), only "
                         "wrong_class (a not_a_problem frame may show a correctly seen object), or none")
    ex.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    import os

    from gridsight.settings import get_settings

    s = get_settings()
    if not 0 <= args.val_fraction < 1:
        raise UserError("--val-fraction must be at least 0 and below 1")
    key = args.api_key or os.environ.get("GRIDSIGHT_EXPORT_KEY") or s.api_key
    report = export_reviews(args.api_url or s.api_url, key, parse_since(args.since), args.out,
                            names=class_names(args.names_from), val_fraction=args.val_fraction,
                            negatives={"all": NEGATIVE_REASONS, "wrong_class": ("wrong_class",),
                                       "none": ()}[args.hard_negatives])
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(report["kinds"].items())) or "no reviews"
    print(f"reviews: {kinds}")
    print(f"images: train {report['images']['train']}, val {report['images']['val']}; boxes {report['boxes']}")
    print(f"exported {args.out}  (train with: gridsight train --extra-data {args.out})")
    return 0
