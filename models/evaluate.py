"""Evaluate a detector on any YOLO-format dataset (``gridsight eval DATA_YAML``).

Classes are matched by *name*, case-insensitively (a dataset's ``Fire`` is the model's ``fire``).
Dataset classes the model lacks are listed and skipped. The dataset's labels are rewritten to the
model's class ids in a temporary folder (images are linked, never copied), then ultralytics'
validator computes precision, recall, mAP50 and mAP50-95 per class.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gridsight.errors import UserError
from gridsight.yamlfile import read_yaml
from models.dataset_prep import IMAGE_SUFFIXES

log = logging.getLogger("gridsight.eval")


@dataclass
class ClassMetrics:
    precision: float
    recall: float
    map50: float
    map50_95: float
    instances: int = 0


@dataclass
class EvalResult:
    model: str
    data: str
    imgsz: int
    images: int
    classes: dict[str, ClassMetrics] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # dataset classes the model lacks

    def weighted_map50(self) -> float | None:
        """mAP50 over the evaluated classes, weighted by their number of boxes."""
        n = sum(m.instances for m in self.classes.values())
        return sum(m.map50 * m.instances for m in self.classes.values()) / n if n else None

    def as_json(self) -> dict:
        return {
            "classes": {k: {"map50": round(m.map50, 4), "map50_95": round(m.map50_95, 4),
                            "precision": round(m.precision, 4), "recall": round(m.recall, 4)}
                        for k, m in self.classes.items()},
            "images": self.images,
        }


def match_classes(dataset_names: dict[int, str], model_names: dict[int, str],
                  wanted: list[str] | None = None) -> tuple[dict[int, int], list[str]]:
    """Map dataset class ids to model class ids by case-insensitive name.

    Returns (dataset id -> model id, dataset class names the model lacks). ``wanted`` restricts the
    mapping to those names (each must exist in the model).
    """
    by_name = {str(n).strip().lower(): i for i, n in model_names.items()}
    if wanted is not None:
        unknown = [w for w in wanted if w.strip().lower() not in by_name]
        if unknown:
            raise UserError(f"the model has no class {', '.join(unknown)}; it has {', '.join(model_names.values())}")
        keep = {w.strip().lower() for w in wanted}
    mapping, missing = {}, []
    for i, n in dataset_names.items():
        key = str(n).strip().lower()
        if key not in by_name:
            missing.append(str(n))
        elif wanted is None or key in keep:
            mapping[int(i)] = by_name[key]
    return mapping, missing


def _names(raw) -> dict[int, str]:
    if isinstance(raw, dict):
        return {int(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return dict(enumerate(str(v) for v in raw))
    raise UserError("dataset yaml has no `names` (a list or an id -> name mapping)")


def read_dataset_yaml(path: Path) -> tuple[dict[int, str], list[Path]]:
    """Class names and the validation image files of a YOLO data yaml (``val``, else ``test``).

    ``path`` may be absolute, relative to the yaml file, or ``data:REL`` (under the shared data folder).
    """
    path = Path(path)
    doc = read_yaml(path, "dataset yaml")
    names = _names(doc.get("names"))
    raw_root = str(doc.get("path") or ".")
    if raw_root.startswith("data:"):  # under the shared data folder, as in configs/models.yaml
        from gridsight.settings import get_settings

        raw_root = str(Path(get_settings().data) / raw_root[len("data:"):])
    root = Path(os.path.expandvars(os.path.expanduser(raw_root)))
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    split = doc.get("val") or doc.get("test")
    if not split:
        raise UserError(f"{path} has no `val` (or `test`) split")
    images = split_images(split if isinstance(split, list) else [split], root, path)
    if not images:
        raise UserError(f"{path}: no images in its val split")
    return names, images


def split_images(entries: list, root: Path, yaml_path: Path) -> list[Path]:
    """The images of a data yaml's split: folders (searched recursively) and ``.txt`` lists (one
    path a line, relative to the list), each entry relative to ``root`` unless absolute."""
    images: list[Path] = []
    for entry in entries:
        p = Path(os.path.expanduser(str(entry)))
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            images += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file() and p.suffix == ".txt":
            for line in p.read_text().splitlines():
                if line.strip():
                    q = Path(line.strip())
                    images.append(q if q.is_absolute() else p.parent / q)
        else:
            raise UserError(f"{yaml_path}: split {entry!r} not found at {p}")
    return images


def label_path(image: Path) -> Path:
    """YOLO convention: the last ``images`` folder in the path becomes ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    idx = max((i for i, p in enumerate(parts) if p == "images"), default=None)
    if idx is None:
        return image.with_suffix(".txt")
    parts[idx] = "labels"
    return Path(*parts).with_suffix(".txt")


def remap_dataset(names: dict[int, str], images: list[Path], model_names: dict[int, str],
                  mapping: dict[int, int], workdir: Path) -> Path:
    """Write a dataset under ``workdir`` with labels in the model's ids; returns its yaml."""
    img_dir, lbl_dir = workdir / "images", workdir / "labels"
    img_dir.mkdir(parents=True)
    lbl_dir.mkdir(parents=True)
    for k, img in enumerate(images):
        stem = f"{k:06d}_{img.stem}"
        os.symlink(img.resolve(), img_dir / f"{stem}{img.suffix.lower()}")
        lines = []
        src = label_path(img)
        if src.is_file():
            for line in src.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 5 and int(float(parts[0])) in mapping:
                    lines.append(" ".join([str(mapping[int(float(parts[0]))]), *parts[1:]]))
        (lbl_dir / f"{stem}.txt").write_text("".join(x + "\n" for x in lines))
    doc = {"path": str(workdir), "train": "images", "val": "images", "names": dict(model_names)}
    out = workdir / "data.yaml"
    out.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def resolve_model(model: str | None) -> tuple[str, int | None]:
    """A weights path or a registry name (None: the registry default) -> (weights path, its imgsz)."""
    from models.registry import resolve_model as registry_entry

    entry = registry_entry(model)
    if entry.weights is not None and Path(entry.weights).exists():
        return str(entry.weights), entry.imgsz
    for art in entry.prebuilt:
        if Path(art.path).exists():
            return str(art.path), entry.imgsz or art.imgsz
    raise UserError(f"model {model!r}: no weights file found")


def evaluate(data_yaml: Path, model: str | None = None, imgsz: int | None = None, classes: list[str] | None = None,
             conf: float = 0.001, batch: int = 8, device: str = "cpu") -> EvalResult:
    from ultralytics import YOLO

    from gridsight.settings import get_settings

    path, registry_imgsz = resolve_model(model)
    imgsz = imgsz or registry_imgsz or get_settings().imgsz
    names, images = read_dataset_yaml(Path(data_yaml))
    yolo = YOLO(path, task="detect")
    if device == "cpu":
        from models.train import use_all_cores

        yolo.add_callback("on_val_start", use_all_cores)
    model_names = {int(k): str(v) for k, v in yolo.names.items()}
    mapping, missing = match_classes(names, model_names, classes)
    if not mapping:
        raise UserError(f"no dataset class matches the model's classes ({', '.join(model_names.values())})")
    if missing:
        log.warning("classes the model lacks, skipped: %s", ", ".join(missing))
    with tempfile.TemporaryDirectory(prefix="gridsight-eval-") as tmp:
        yaml_path = remap_dataset(names, images, model_names, mapping, Path(tmp))
        metrics = yolo.val(data=str(yaml_path), imgsz=imgsz, batch=batch, conf=conf, device=device, plots=False,
                           verbose=False, workers=0, project=str(Path(tmp) / "runs"), name="val")
    result = EvalResult(model=path, data=str(data_yaml), imgsz=imgsz, images=len(images), skipped=missing)
    box = metrics.box
    nt = getattr(metrics, "nt_per_class", None)
    evaluated = set(mapping.values())
    for k, cid in enumerate(box.ap_class_index):
        cid = int(cid)
        if cid not in evaluated:
            continue
        result.classes[model_names[cid]] = ClassMetrics(
            precision=float(box.p[k]), recall=float(box.r[k]), map50=float(box.ap50[k]), map50_95=float(box.ap[k]),
            instances=int(nt[cid]) if nt is not None else 0)
    return result


def format_table(r: EvalResult) -> str:
    lines = [f"model {r.model}  imgsz {r.imgsz}  data {r.data}  images {r.images}",
             f"{'class':14s} {'boxes':>6s} {'P':>6s} {'R':>6s} {'mAP50':>6s} {'mAP50-95':>8s}"]
    for name, m in r.classes.items():
        lines.append(f"{name:14s} {m.instances:6d} {m.precision:6.3f} {m.recall:6.3f} {m.map50:6.3f} {m.map50_95:8.3f}")
    w = r.weighted_map50()
    if w is not None and len(r.classes) > 1:
        lines.append(f"{'box-weighted':14s} {sum(m.instances for m in r.classes.values()):6d} {'':6s} {'':6s} {w:6.3f}")
    if r.skipped:
        lines.append(f"skipped (model lacks): {', '.join(r.skipped)}")
    if not r.classes:
        lines.append("no boxes of the matched classes in this dataset")
    return "\n".join(lines)
