"""Model registry (``configs/models.yaml``): a name -> weights, classes and prebuilt artefacts.

A model is named by a registry entry (``coco``, later ``gridsight``) or given as a path to a
``.pt``, an ``*_openvino_model`` folder or an ``.onnx`` file; :func:`resolve_model` turns either
into a :class:`ModelEntry`.

>>> entry = resolve_model("default")  # doctest: +SKIP
>>> entry.name, entry.weights.name  # doctest: +SKIP
('coco', 'coco-yolo11n-rebuilt.pt')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gridsight.errors import UserError
from gridsight.yamlfile import read_yaml
from gridsight.paths import REPO_ROOT
from gridsight.settings import get_settings
from models import backends

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class Artefact:
    """A ready model file for one backend (prebuilt, or an export from the cache)."""

    backend: str
    precision: str
    path: Path
    imgsz: int | None = None  # None: unknown / dynamic
    batch: int = 1  # 0: dynamic


@dataclass(frozen=True)
class ModelEntry:
    name: str
    weights: Path | None = None  # the .pt every export is built from
    classes: tuple[str, ...] | None = None
    imgsz: int | None = None
    precision: dict[str, str] = field(default_factory=dict)
    calibration: Path | None = None
    prebuilt: tuple[Artefact, ...] = ()
    description: str = ""
    # class name -> the score threshold chosen from data for it (bench/operating_points.py);
    # the rules use it unless configs/issues.yaml or the camera sets a min_score
    operating_points: dict[str, float] = field(default_factory=dict)

    def find_prebuilt(self, backend: str, precision: str, imgsz: int, batch: int) -> Artefact | None:
        for a in self.prebuilt:
            if (a.backend == backend and a.precision == precision and a.imgsz in (None, imgsz)
                    and a.batch in (0, 1, batch) and a.path.exists()):
                return a
        return None


def resolve_path(value: str | os.PathLike) -> Path:
    """``data:REL`` -> under the data folder; relative -> under the repository."""
    text = str(value)
    if text.startswith("data:"):
        return get_settings().data / text[len("data:"):]
    p = Path(text).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def registry_path() -> Path:
    return get_settings().configs / "models.yaml"


def load_registry(path: Path | None = None) -> tuple[str, dict[str, ModelEntry]]:
    """(default name, entries) from the registry file."""
    path = path or registry_path()
    doc = read_yaml(path, "model registry")
    entries = {name: _entry(name, spec or {}, path) for name, spec in (doc.get("models") or {}).items()}
    default = doc.get("default") or next(iter(entries), None)
    if default not in entries:
        raise UserError(f"model registry {path}: default {default!r} is not one of {sorted(entries)}")
    return default, entries


def _entry(name: str, spec: dict, where: Path) -> ModelEntry:
    precision = dict(spec.get("precision") or {})
    for backend, value in precision.items():
        if backend not in backends.names() or value not in (*PRECISIONS, "auto"):
            raise UserError(f"{where}: model {name}: precision {backend}: {value} "
                            f"(backends {backends.names()}, precisions {PRECISIONS})")
    prebuilt = []
    for a in spec.get("prebuilt") or []:
        if a.get("backend") not in backends.names() or "path" not in a:
            raise UserError(f"{where}: model {name}: each prebuilt artefact needs a backend {backends.names()} and a path")
        prebuilt.append(Artefact(a["backend"], a.get("precision", "fp32"), resolve_path(a["path"]),
                                 a.get("imgsz"), int(a.get("batch", 1))))
    classes = spec.get("classes")
    points = spec.get("operating_points") or {}
    if not isinstance(points, dict):
        raise UserError(f"{where}: model {name}: operating_points must map class names to scores")
    for cls, score in points.items():
        if classes and cls not in classes:
            raise UserError(f"{where}: model {name}: operating_points: {cls!r} is not one of its classes")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 < score < 1:
            raise UserError(f"{where}: model {name}: operating_points: {cls}: {score!r} (a score between 0 and 1)")
    return ModelEntry(
        name=name,
        weights=resolve_path(spec["weights"]) if spec.get("weights") else None,
        classes=tuple(str(c) for c in classes) if classes else None,
        imgsz=spec.get("imgsz"),
        precision=precision,
        calibration=resolve_path(spec["calibration"]) if spec.get("calibration") else None,
        prebuilt=tuple(prebuilt),
        description=spec.get("description", ""),
        operating_points={str(k): float(v) for k, v in points.items()},
    )


def operating_points(model: str | os.PathLike | None = None) -> dict[str, float]:
    """The score per class at which the rules count a detection of ``model`` (a registry name; None:
    GRIDSIGHT_MODEL, then the default), from its ``operating_points``; {} for a path or no entry.
    A rule's ``min_score`` and a camera's sensitivity come first (:func:`gridsight.issues.min_score`)."""
    name = str(model) if model is not None else get_settings().model
    try:
        default, entries = load_registry()
    except UserError:
        return {}
    entry = entries.get(default if name in ("", "default") else name)
    return dict(entry.operating_points) if entry is not None else {}


def entry_from_path(path: Path) -> ModelEntry:
    """A model given as a file or folder instead of a registry name."""
    if path.is_dir() and (path.name.endswith("_openvino_model") or any(path.glob("*.xml"))):
        meta = _read_metadata(path / "metadata.yaml")
        precision = "int8" if (meta.get("args") or {}).get("int8") else "fp32"
        imgsz = meta.get("imgsz")
        imgsz = imgsz[0] if isinstance(imgsz, (list, tuple)) else imgsz
        art = Artefact("openvino", precision, path, imgsz, int(meta.get("batch", 1)))
        return ModelEntry(path.name, classes=_names(meta), precision={"openvino": precision}, prebuilt=(art,), imgsz=imgsz)
    if path.suffix == ".pt":
        return ModelEntry(path.stem, weights=path)
    for b in backends.BACKENDS:
        if b.export_format and b.suffix and path.name.endswith(b.suffix):
            art = Artefact(b.name, b.default_precision(b.devices[0]), path, None, 0)
            return ModelEntry(path.stem, prebuilt=(art,))
    kinds = ", ".join(f"*{b.suffix} ({b.name})" for b in backends.BACKENDS if b.suffix)
    raise UserError(f"{path}: not a model (expected one of: {kinds})")


def _read_metadata(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _names(meta: dict) -> tuple[str, ...] | None:
    names = meta.get("names")
    if isinstance(names, dict):
        return tuple(names[k] for k in sorted(names))
    return tuple(names) if names else None


def resolve_model(model: str | os.PathLike | None = None) -> ModelEntry:
    """A registry name (None -> GRIDSIGHT_MODEL -> the registry default) or a path -> ModelEntry."""
    name = str(model) if model is not None else get_settings().model
    default, entries = load_registry()
    if name in ("", "default"):
        name = default
    if name in entries:
        entry = entries[name]
        if (entry.weights is None or not entry.weights.exists()) and not any(a.path.exists() for a in entry.prebuilt):
            where = entry.weights or registry_path()
            raise UserError(f"model {name!r}: no weights or prebuilt artefact found ({where}; is GRIDSIGHT_DATA set?)")
        return entry
    path = resolve_path(name)
    if path.exists():
        return entry_from_path(path)
    raise UserError(f"unknown model {name!r}: not a name in {registry_path()} ({', '.join(sorted(entries))}) "
                    f"and no such file")
