"""Build the merged training set from a manifest in ``datasets/`` (``gridsight dataset prepare``).

One command, reproducible, writes outside the repository::

    gridsight dataset prepare datasets/gridsight-issues.yaml --out ~/.cache/gridsight/datasets/gridsight-issues

What it does, source by source (see the manifest for the numbers):

* ``yolo`` sources (fire-smoke, garbage): labels remapped by class *name* to the manifest's
  class ids; classes mapped to ``null`` are dropped.
* ``masks`` sources (water): one box per connected component of the binarised mask, tiny
  components dropped; a deterministic (hash of the file name) validation split.
* ``video`` sources (street footage): frames sampled evenly; the first part of each clip trains,
  the last part (after a gap) is the COCO-retention set, never trained on.
* The COCO teacher pseudo-labels the COCO classes on every image of every split.
* The untouched **test** split: a share of each source's validation material moved aside whole
  scene by whole scene (``test_scenes`` names them, else ``test_fraction`` of the scenes by a
  hash), and ``negatives_test_fraction`` of the held-out negatives. Nothing selects on it: no
  epoch, blend or operating point; it is only reported (bench/model_card.py).

Output: ``images/{train,val,test,retention}``, ``labels/...``, ``data.yaml`` (train + val),
``val-<source>.yaml`` and ``test-<source>.yaml`` per source, ``retention.yaml`` and
``report.json`` (counts).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import yaml

from gridsight.errors import UserError
from gridsight.yamlfile import read_yaml

log = logging.getLogger("gridsight.dataset")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# A teacher maps image paths to one (N, 6) array per image: class_id(COCO), cx, cy, w, h (normalised), conf.
Teacher = Callable[[list[Path]], list[np.ndarray]]


@dataclass
class ClassSpec:
    name: str
    zh: str
    coco: int | None = None


@dataclass
class Manifest:
    name: str
    classes: list[ClassSpec]
    sources: list[dict]
    teacher: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def class_id(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise UserError(f"manifest maps to unknown class {name!r}; classes are {self.names}") from None

    @property
    def coco_to_ours(self) -> dict[int, int]:
        return {c.coco: i for i, c in enumerate(self.classes) if c.coco is not None}


def load_manifest(path: Path) -> Manifest:
    path = Path(path)
    raw = read_yaml(path, "manifest")
    try:
        classes = [ClassSpec(str(c["name"]), str(c.get("zh", c["name"])), c.get("coco")) for c in raw["classes"]]
        return Manifest(str(raw["name"]), classes, list(raw.get("sources") or []), dict(raw.get("teacher") or {}))
    except (KeyError, TypeError) as exc:
        raise UserError(f"manifest {path} lacks a field: {exc}") from None


# --- labels ------------------------------------------------------------------------------------

def read_yolo_labels(path: Path) -> np.ndarray:
    """(N, 5) float array: class, cx, cy, w, h. Missing file = no boxes. Polygons become boxes."""
    if not path.is_file():
        return np.zeros((0, 5), np.float32)
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        vals = [float(v) for v in parts]
        if len(vals) > 5:  # segment polygon: class x1 y1 x2 y2 ...
            xy = np.array(vals[1:], np.float32).reshape(-1, 2)
            (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
            vals = [vals[0], (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
        rows.append(vals)
    return np.array(rows, np.float32).reshape(-1, 5)


def write_yolo_labels(path: Path, boxes: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{int(b[0])} {b[1]:.6f} {b[2]:.6f} {b[3]:.6f} {b[4]:.6f}\n" for b in boxes))


def remap_labels(boxes: np.ndarray, id_map: dict[int, int | None]) -> np.ndarray:
    """Map class ids with ``id_map``; ids mapped to None (or absent) are dropped."""
    keep = [i for i, c in enumerate(boxes[:, 0].astype(int)) if id_map.get(c) is not None]
    out = boxes[keep].copy()
    if len(out):
        out[:, 0] = [id_map[int(c)] for c in out[:, 0]]
    return out


def mask_to_boxes(mask: np.ndarray, threshold: int = 128, min_area_frac: float = 0.005) -> np.ndarray:
    """Normalised (N, 4) cx, cy, w, h: one box per 8-connected component of ``mask > threshold``.

    Components smaller than ``min_area_frac`` of the image are dropped (speckle, reflections).
    """
    import cv2

    if mask.ndim == 3:
        mask = mask[..., 0]
    h, w = mask.shape
    binary = (mask > threshold).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    boxes = []
    for i in range(1, n):  # 0 is the background
        x, y, bw, bh, area = stats[i]
        if area < min_area_frac * h * w:
            continue
        boxes.append([(x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h])
    return np.array(boxes, np.float32).reshape(-1, 4)


def is_holdout(name: str, fraction: float) -> bool:
    """Deterministic split: a stable hash of the file name, independent of listing order."""
    digest = hashlib.sha1(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


# --- one prepared image -------------------------------------------------------------------------

@dataclass
class Item:
    split: str  # train, val, retention
    source: str
    image: Path  # the prepared image path (a link or a written frame)
    boxes: np.ndarray  # (N, 5) in our class ids


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def _resolve(data_dir: Path, p: str) -> Path:
    q = Path(os.path.expanduser(p))
    return q if q.is_absolute() else data_dir / q


ONLY_DROPPED = ("keep", "drop", "negatives")


def scene_group(name: str) -> str:
    """Frames of one scene are numbered together (``img_1046``, ``img_1047``): the first number
    of a file name without its last digit, so a hold-out by this key keeps a scene on one side.
    Frames cut from one clip (``fire2_mp4-33_jpg...``) are one scene: the clip's name."""
    clip = re.match(r"(.+?_mp4)-\d+", name)
    if clip:
        return clip.group(1)
    m = re.match(r"(\D*)(\d+)", name)
    return f"{m.group(1)}{int(m.group(2)) // 10}" if m else name


def in_test_split(src: dict, name: str, fraction_key: str = "test_fraction") -> bool:
    """Whether validation material of source ``src`` (file ``name``) belongs to the untouched
    test split instead: its scene is listed in ``test_scenes``, or (no list) a hash of the scene
    falls in ``src[fraction_key]`` (salted, so it is independent of the validation hold-out)."""
    scene = scene_group(name)
    if src.get("test_scenes") and fraction_key == "test_fraction":
        return scene in src["test_scenes"]
    return is_holdout(f"test:{scene}", float(src.get(fraction_key, 0.0)))


def negative_held_out(src: dict, name: str) -> bool:
    """Whether a training negative of source ``src`` (file ``name``) is held out to count false alarms."""
    return is_holdout(scene_group(name), float(src.get("negatives_val_fraction", 0.2)))


def prepare_yolo_source(src: dict, m: Manifest, data_dir: Path, out: Path) -> list[Item]:
    """A YOLO-format source. ``only_dropped`` says what becomes of an image whose labels were all
    of dropped classes: ``keep`` it (as it is, the default), ``drop`` it, or keep it as one of the
    source's ``negatives``: a scene with none of our classes in it, listed as the source
    ``<name>-negatives`` (so ``--repeat`` can weigh it), with ``negatives_val_fraction`` of the
    training ones held out by :func:`scene_group` to measure false alarms."""
    root = _resolve(data_dir, src["path"])
    names = list(src["class_ids"])
    id_map = {i: (m.class_id(src["classes"][n]) if src["classes"].get(n) else None) for i, n in enumerate(names)}
    only_dropped = src.get("only_dropped", "keep")
    if only_dropped not in ONLY_DROPPED:
        raise UserError(f"{src['name']}: only_dropped must be one of {', '.join(ONLY_DROPPED)}, not {only_dropped!r}")
    items = []
    for split, folder in src["splits"].items():
        imgs = _images(root / folder / "images")
        if not imgs:
            raise UserError(f"{src['name']}: no images in {root / folder / 'images'}")
        for img in imgs:
            raw = read_yolo_labels(root / folder / "labels" / (img.stem + ".txt"))
            boxes = remap_labels(raw, id_map)
            source, part = src["name"], split
            if split == "val" and in_test_split(src, img.name):
                part = "test"
            if len(raw) and not len(boxes) and only_dropped != "keep":
                if only_dropped == "drop":
                    continue
                source = f"{src['name']}-negatives"
                if split == "train" and negative_held_out(src, img.name):
                    part = "test" if in_test_split(src, img.name, "negatives_test_fraction") else "val"
            dst = out / "images" / part / f"{source}__{img.name}"  # a held-out negative never meets a val image
            _link(img, dst)
            items.append(Item(part, source, dst, boxes))
    return items


def prepare_mask_source(src: dict, m: Manifest, data_dir: Path, out: Path) -> list[Item]:
    import cv2

    root = _resolve(data_dir, src["path"])
    cls = m.class_id(src["class"])
    imgs = _images(root / src.get("images", "images"))
    if not imgs:
        raise UserError(f"{src['name']}: no images in {root / src.get('images', 'images')}")
    items = []
    for img in imgs:
        mask_path = root / src.get("masks", "masks") / (img.stem + ".png")
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            log.warning("%s: no readable mask for %s, skipped", src["name"], img.name)
            continue
        b = mask_to_boxes(mask, int(src.get("threshold", 128)), float(src.get("min_area_frac", 0.005)))
        boxes = np.concatenate([np.full((len(b), 1), cls, np.float32), b], 1)
        split = "val" if is_holdout(img.name, float(src.get("val_fraction", 0.15))) else "train"
        if split == "val" and in_test_split(src, img.name):
            split = "test"
        dst = out / "images" / split / f"{src['name']}__{img.name}"
        _link(img, dst)
        items.append(Item(split, src["name"], dst, boxes))
    return items


def sample_indices(start: int, stop: int, count: int) -> list[int]:
    """``count`` evenly spaced frame indices in [start, stop)."""
    if stop <= start or count <= 0:
        return []
    count = min(count, stop - start)
    return sorted({start + int(i * (stop - start) / count) for i in range(count)})


def prepare_video_source(src: dict, data_dir: Path, out: Path) -> list[Item]:
    import cv2

    items = []
    for v in src["videos"]:
        path = _resolve(data_dir, v["path"])
        cap = cv2.VideoCapture(str(path))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not cap.isOpened() or n <= 0:
            log.warning("%s: cannot read %s, skipped", src["name"], path)
            continue
        wanted = {i: "train" for i in sample_indices(0, int(n * float(src.get("train_until", 0.7))), int(v["train"]))}
        wanted.update({i: "retention" for i in sample_indices(int(n * float(src.get("holdout_from", 0.75))), n,
                                                               int(v["holdout"]))})
        i = 0
        while i <= max(wanted):
            ok, frame = cap.read()
            if not ok:
                break
            if i in wanted:
                dst = out / "images" / wanted[i] / f"{src['name']}__{path.stem}_{i:05d}.jpg"
                dst.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(dst), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
                items.append(Item(wanted[i], src["name"], dst, np.zeros((0, 5), np.float32)))
            i += 1
        cap.release()
    return items


# --- teacher ------------------------------------------------------------------------------------

def ultralytics_teacher(weights: Path, imgsz: int = 640, conf: float = 0.35) -> Teacher:
    """The COCO teacher as a function of image paths (OpenVINO dir or .pt)."""
    from ultralytics import YOLO

    if not Path(weights).exists():
        raise UserError(f"teacher weights not found: {weights}")
    model = YOLO(str(weights), task="detect")

    def label(paths: list[Path]) -> list[np.ndarray]:
        out = []
        for p in paths:
            r = next(iter(model.predict(str(p), imgsz=imgsz, conf=conf, verbose=False, stream=True)))
            b = r.boxes
            out.append(np.concatenate([b.cls.cpu().numpy()[:, None], b.xywhn.cpu().numpy(),
                                       b.conf.cpu().numpy()[:, None]], 1).astype(np.float32))
        return out

    return label


def add_teacher_labels(items: list[Item], m: Manifest, teacher: Teacher, progress: bool = True) -> dict[str, int]:
    """Append the teacher's boxes for the manifest's COCO classes to every item. Returns counts."""
    mapping = m.coco_to_ours
    counts: dict[str, int] = {}
    it: Iterable = range(0, len(items), 32)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="teacher labels", unit="batch")
    for start in it:
        chunk = items[start:start + 32]
        for item, pred in zip(chunk, teacher([x.image for x in chunk])):
            keep = [r for r in pred if int(r[0]) in mapping]
            if not keep:
                continue
            extra = np.array([[mapping[int(r[0])], *r[1:5]] for r in keep], np.float32)
            item.boxes = np.concatenate([item.boxes, extra], 0)
            for r in extra:
                counts[m.names[int(r[0])]] = counts.get(m.names[int(r[0])], 0) + 1
    return counts


# --- the whole set ------------------------------------------------------------------------------

def _write_yaml(path: Path, root: Path, names: list[str], train: str | None, val: str) -> None:
    doc = {"path": str(root), "train": train or val, "val": val, "names": dict(enumerate(names))}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def prepare(manifest: Manifest, data_dir: Path, out: Path, teacher: Teacher | None = None,
            progress: bool = True) -> dict:
    """Build the set under ``out`` (replacing a previous build there). Returns the report."""
    out = Path(out).expanduser()
    if out.exists():
        if not (out / "report.json").exists() and any(out.iterdir()):
            raise UserError(f"{out} exists and is not a prepared dataset; choose another --out")
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True)
    items: list[Item] = []
    for src in manifest.sources:
        kind = src.get("kind")
        if kind == "yolo":
            items += prepare_yolo_source(src, manifest, data_dir, out)
        elif kind == "masks":
            items += prepare_mask_source(src, manifest, data_dir, out)
        elif kind == "video":
            items += prepare_video_source(src, data_dir, out)
        else:
            raise UserError(f"source {src.get('name')!r}: unknown kind {kind!r} (yolo, masks or video)")
        log.info("source %s: %d images so far", src.get("name"), len(items))
    teacher_counts = add_teacher_labels(items, manifest, teacher, progress) if teacher else {}
    for item in items:
        label = out / "labels" / item.split / (item.image.stem + ".txt")
        write_yolo_labels(label, item.boxes)
    names = manifest.names
    _write_yaml(out / "data.yaml", out, names, "images/train", "images/val")
    report: dict = {"name": manifest.name, "classes": [{"name": c.name, "zh": c.zh} for c in manifest.classes],
                    "teacher_boxes": teacher_counts, "splits": {}, "yamls": {"train": str(out / "data.yaml")}}
    for split in ("train", "val", "test", "retention"):
        sel = [i for i in items if i.split == split]
        boxes = np.concatenate([i.boxes for i in sel], 0) if sel else np.zeros((0, 5))
        report["splits"][split] = {
            "images": len(sel),
            "by_source": {s: sum(1 for i in sel if i.source == s) for s in sorted({i.source for i in sel})},
            "boxes": {names[c]: int((boxes[:, 0] == c).sum()) for c in range(len(names)) if (boxes[:, 0] == c).any()},
        }
    for source in sorted({i.source for i in items if i.split == "train"}):  # for `train --repeat SOURCE=N`
        lst = out / f"train-{source}.txt"
        lst.write_text("".join(f"{i.image}\n" for i in items if i.split == "train" and i.source == source))
        report["yamls"][f"train-{source}"] = str(lst)
    for part in ("val", "test"):
        for source in sorted({i.source for i in items if i.split == part}):
            lst = out / f"{part}-{source}.txt"
            lst.write_text("".join(f"{i.image}\n" for i in items if i.split == part and i.source == source))
            _write_yaml(out / f"{part}-{source}.yaml", out, names, None, str(lst))
            report["yamls"][f"{part}-{source}"] = str(out / f"{part}-{source}.yaml")
    if any(i.split == "retention" for i in items):
        _write_yaml(out / "retention.yaml", out, names, None, "images/retention")
        report["yamls"]["retention"] = str(out / "retention.yaml")
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report
