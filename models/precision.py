"""``auto`` precision: chosen by measuring, once per CPU and model, then cached.

At a model's first load on a machine, :func:`load_fastest` loads every candidate precision the
backend offers there (fp32 and int8 on a CPU with OpenVINO), times a few batches of one
synthetic 16:9 frame on each, in alternating rounds (so a neighbour's load hits both alike), and
keeps the one with the fewest **CPU ms per frame** (process CPU time: what limits throughput when
every core is busy, and robust against other processes on a shared machine). The choice and both
measurements go to the log and to ``GRIDSIGHT_HOME/cache/precision.json``, keyed by CPU model and
core count, model file (sha256), backend, image size, batch and the candidates; later loads read it.

A candidate is measured when its artefact is at hand (prebuilt, a cached export, or the .pt itself)
or cheap to build (fp32); an int8 export (NNCF calibration, minutes) is built only when the CPU-flag
rule (:func:`models.detector.auto_precision`) picks it anyway. An explicit precision, or the setting
``GRIDSIGHT_PRECISION_CALIBRATION=false``, skips all of this.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from gridsight.settings import get_settings
from models.backends import Backend
from models.backends.base import Detector
from models.registry import ModelEntry

log = logging.getLogger("gridsight.models.precision")
BUDGET_S = 1.0  # measuring time after the warm-up (at least MIN_ROUNDS rounds)
MIN_ROUNDS, MAX_ROUNDS = 2, 8


def cache_file() -> Path:
    return get_settings().cache_dir / "precision.json"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.partition(':')[2].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x{os.cpu_count()}"


def model_id(entry: ModelEntry) -> str:
    """The model file's identity: the .pt's sha256, else the prebuilt artefacts' paths and mtimes."""
    if entry.weights is not None and entry.weights.exists():
        from models.export import weights_hash

        return weights_hash(entry.weights)
    stamp = ";".join(f"{a.path}@{a.path.stat().st_mtime_ns}" for a in entry.prebuilt if a.path.exists())
    return hashlib.sha256(stamp.encode()).hexdigest()[:12]


def candidates(entry: ModelEntry, row: Backend, device: str, imgsz: int, batch: int, rule: str,
               prebuilt: bool = True) -> list[str]:
    from models.export import is_ready

    have_pt = entry.weights is not None and entry.weights.exists()
    out = [p for p in row.precisions(device)
           if (have_pt and (p == rule or p != "int8")) or is_ready(entry, row.name, p, imgsz, batch, prebuilt)]
    return out or [rule]


def measure(detectors: dict[str, Detector], frame: np.ndarray) -> dict[str, dict[str, float]]:
    """Median CPU and wall ms per frame of each detector, on batches of ``frame``, in alternating rounds."""
    samples: dict[str, list[tuple[float, float]]] = {p: [] for p in detectors}
    for det in detectors.values():  # warm-up: compiles the frame's shape
        det.detect([frame])
    start = time.perf_counter()
    for done in range(1, MAX_ROUNDS + 1):
        for p, det in detectors.items():
            frames = [frame] * det.batch
            wall, cpu = time.perf_counter(), time.process_time()
            det.detect(frames)
            samples[p].append(((time.process_time() - cpu) / len(frames), (time.perf_counter() - wall) / len(frames)))
        if done >= MIN_ROUNDS and time.perf_counter() - start > BUDGET_S:
            break
    return {p: {"cpu_ms": round(1000 * statistics.median(c for c, _ in s), 2),
                "wall_ms": round(1000 * statistics.median(w for _, w in s), 2)} for p, s in samples.items()}


def _read() -> dict:
    try:
        return json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _remember(key: str, record: dict) -> None:
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = _read()
        doc[key] = record
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        tmp.replace(path)


def _frame(imgsz: int) -> np.ndarray:
    from models.calibration import synthetic_frames

    return np.ascontiguousarray(synthetic_frames(1, imgsz)[0][: imgsz * 9 // 16])  # a 16:9 street-ish scene


def load_fastest(entry: ModelEntry, row: Backend, device: str, imgsz: int, batch: int, rule: str,
                 build: Callable[[str], Detector], prebuilt: bool = True) -> Detector:
    """The detector of the precision that measured fastest here (``build(precision)`` loads one)."""
    cands = candidates(entry, row, device, imgsz, batch, rule, prebuilt)
    if len(cands) == 1:
        return build(cands[0])
    key = "|".join([cpu_model(), f"{entry.name}@{model_id(entry)}", row.name, str(imgsz), f"b{batch}", "+".join(cands)])
    known = _read().get(key)
    if known and known.get("precision") in cands:
        log.info("auto precision: %s (measured here before: %s)", known["precision"], _summary(known["measured"]),
                 extra={"model": entry.name, "backend": row.name, "imgsz": imgsz, "cache": str(cache_file())})
        return build(known["precision"])
    started = time.perf_counter()
    detectors: dict[str, Detector] = {}
    for p in cands:
        try:
            detectors[p] = build(p)
        except Exception as exc:  # noqa: BLE001  (a candidate that cannot load is not a candidate)
            if p == rule:
                raise
            log.warning("auto precision: %s does not load here (%s); not measured", p, exc)
    loaded = time.perf_counter()
    measured = measure(detectors, _frame(imgsz)) if len(detectors) > 1 else {}
    done = time.perf_counter()
    best = min(measured, key=lambda p: measured[p]["cpu_ms"]) if measured else next(iter(detectors))
    for p, det in detectors.items():
        if p != best:
            det.close()
    if measured:
        _remember(key, {"precision": best, "measured": measured, "cpu": cpu_model(),
                        "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        log.info("auto precision: %s, the fewest CPU ms per frame of %s (measured now in %.1f s, "
                 "%.1f s with loading; cached)", best, _summary(measured), done - loaded, done - started, extra={"model": entry.name, "backend": row.name, "imgsz": imgsz,
                                             "batch": batch, "cpu": cpu_model(), "cache": str(cache_file())})
    return detectors[best]


def _summary(measured: dict[str, dict[str, float]]) -> str:
    return ", ".join(f"{p} {m['cpu_ms']} CPU ms / {m['wall_ms']} wall ms per frame" for p, m in measured.items())
