"""Exports on first use, cached: the artefact a backend runs, built from a model's .pt.

Cache layout: ``GRIDSIGHT_HOME/cache/exports/<stem>-<sha256[:12]>-<backend>-<precision>-<imgsz>-<b<batch>|dyn>/``
(int8 adds a hash of its calibration set to the precision), so a retrained .pt (new hash),
another image size, batch size, backend, precision or calibration each get their own export and
an unchanged one is never rebuilt. An export is built in a temporary
folder and renamed into place when complete, under a file lock, so two processes starting at
once build it once. int8 calibrates on local frames (:mod:`models.calibration`), never a download.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from gridsight.errors import UserError
from gridsight.settings import get_settings
from models import backends
from models.registry import Artefact, ModelEntry

log = logging.getLogger("gridsight.models.export")
BUILTIN_CALIBRATION = b"footage-photos-v2"  # models/calibration.py's set; bump when it changes
INT8_RECIPE = b"nncf-full-bias-float-attention-v1"  # the backends' quantize(); bump when it changes


def weights_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def export_key(weights: Path, backend: str, precision: str, imgsz: int, batch: int, dynamic: bool = False,
               calibration: Path | None = None) -> str:
    shape = "dyn" if dynamic else f"b{batch}"
    if precision == "int8":  # a different calibration set is a different model
        ident = (calibration.read_bytes() if calibration is not None and calibration.is_file()
                 else BUILTIN_CALIBRATION) + INT8_RECIPE
        precision += "-" + hashlib.sha256(ident).hexdigest()[:6]
    return f"{weights.stem}-{weights_hash(weights)}-{backend}-{precision}-{imgsz}-{shape}"


def exports_dir() -> Path:
    return get_settings().cache_dir / "exports"


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def is_ready(entry: ModelEntry, backend: str, precision: str, imgsz: int, batch: int, prebuilt: bool = True) -> bool:
    """Whether :func:`artefact_for` would find the artefact without building one (a prebuilt or a cached
    export; a backend that runs the .pt itself needs only the weights)."""
    if prebuilt and entry.find_prebuilt(backend, precision, imgsz, batch) is not None:
        return True
    if entry.weights is None or not entry.weights.exists():
        return False
    row = backends.backend(backend)
    if row.export_format is None:
        return True
    key = export_key(entry.weights, backend, precision, imgsz, 1 if row.dynamic else batch, row.dynamic,
                     entry.calibration)
    return (exports_dir() / key / ".complete").exists()


def artefact_for(entry: ModelEntry, backend: str, precision: str, imgsz: int, batch: int,
                 device: str = "cpu", prebuilt: bool = True) -> Artefact:
    """A prebuilt artefact that fits (unless ``prebuilt`` is False), else the cached export (built now if missing)."""
    found = entry.find_prebuilt(backend, precision, imgsz, batch) if prebuilt else None
    if found is not None:
        return found
    if entry.weights is None or not entry.weights.exists():
        have = ", ".join(f"{a.backend}/{a.precision}/{a.imgsz}px" for a in entry.prebuilt) or "none"
        raise UserError(f"model {entry.name!r}: no {backend} {precision} artefact at {imgsz}px "
                        f"(prebuilt: {have}) and no .pt weights to export one from")
    # Dynamic exports (OpenVINO) take any shape: one async request per frame, each frame letterboxed to
    # its own smallest rectangle, so one export serves every batch size. The others (ONNX, TensorRT)
    # keep the static batch they will run.
    if backends.backend(backend).dynamic:
        return export(entry.weights, backend, precision, imgsz, 1, device, entry.calibration, dynamic=True)
    return export(entry.weights, backend, precision, imgsz, batch, device, entry.calibration)


def export(weights: Path, backend: str, precision: str, imgsz: int, batch: int = 1, device: str = "cpu",
           calibration: Path | None = None, dynamic: bool = False) -> Artefact:
    row = next((b for b in backends.BACKENDS if b.name == backend and b.export_format), None)
    if row is None:
        raise UserError(f"no export for backend {backend!r}")
    if precision == "int8" and not row.int8:
        int8 = ", ".join(b.name for b in backends.BACKENDS if b.int8)
        raise UserError(f"int8 is supported for the {int8} backend only, not {backend}")
    key = export_key(weights, backend, precision, imgsz, batch, dynamic, calibration)
    final = exports_dir() / key
    with _locked(exports_dir() / f".{key}.lock"):
        if not (final / ".complete").exists():
            _build(weights, row, precision, imgsz, batch, device, calibration, final, dynamic)
    path = next(p for p in final.iterdir() if p.name.endswith(row.suffix))  # <stem><suffix>: file or folder
    return Artefact(backend, precision, path, imgsz, 0 if dynamic else batch)


def _build(weights: Path, row: backends.Backend, precision: str, imgsz: int, batch: int, device: str,
           calibration: Path | None, final: Path, dynamic: bool = False) -> None:
    from ultralytics import YOLO

    log.info("exporting model (first use; cached afterwards)", extra={"weights": str(weights), "backend": row.name,
             "precision": precision, "imgsz": imgsz, "batch": batch, "to": str(final)})
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        pt = tmp / "model.pt"
        shutil.copyfile(weights, pt)  # exports land beside the .pt, which may be read-only
        model = YOLO(str(pt), task="detect")
        args = dict(format=row.export_format, imgsz=imgsz, batch=batch, dynamic=dynamic,
                    device="cpu" if "cpu" in row.devices else device, verbose=False)
        if not row.dynamic:
            args["simplify"] = False  # onnxslim is not installed; the plain graph runs as fast here
        if precision == "fp16":
            args.update(quantize=16)
        out = model.export(**args)  # int8: the fp32 export first, quantised by the backend below
        if not out or not Path(out).exists():
            raise RuntimeError(f"export to {row.name} produced nothing")
        if precision == "int8":
            from models.calibration import calibration_images

            row.load().quantize(Path(out), calibration_images(calibration, model.names), model.model, imgsz)
        pt.unlink()
        (tmp / ".complete").write_text(f"{weights}\n")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
