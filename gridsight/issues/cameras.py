"""Cameras and their zones from ``configs/cameras.yaml``: the one loader (the pipeline watches
them; the ticket API loads the same entries into its camera registry, ids unchanged).

Schema::

    cameras:
      - id: cam-01                 # one id everywhere (tickets point to it)
        name: Campus entrance
        url: rtsp://... | http://... | /path/video.mp4 | /path/images/ | /path/image.jpg
        location: {lat: 31.23, lon: 121.47, address: "..."}
        detect_fps: 2              # sampled frames per second of footage
        zones: [{id: kerb, kind: no_parking, polygon: [[x, y], ...], normalized: false}]
        sensitivity:               # optional, per issue type: the score a detection must reach on
          smoke: {min_score: 0.6}  # this camera (before issues.yaml's min_score and the model's
                                   # operating point; see gridsight.issues.catalogue)

Relative file urls are resolved against the config file's folder; ``${VAR}`` and ``${VAR:-default}``
are expanded from the environment (e.g. ``${GRIDSIGHT_DATA}``). :attr:`Camera.spec` keeps the
entry as written (the API stores it; its url is never expanded there).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gridsight.issues.catalogue import parse_min_scores
from gridsight.issues.zones import Zone, parse_zones

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Camera:
    id: str
    url: str
    name: str = ""
    location: dict | None = None
    detect_fps: float = 2.0
    zones: list[Zone] = field(default_factory=list)
    min_scores: dict[str, float] = field(default_factory=dict)  # issue type -> min_score (its sensitivity)
    spec: dict = field(default_factory=dict, repr=False)  # the config entry as written


def expand(text: str) -> str:
    def sub(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value is None and m.group(1) == "GRIDSIGHT_DATA":
            from gridsight.settings import get_settings

            value = str(get_settings().data)
        return value if value is not None else (m.group(2) or "")

    return _VAR.sub(sub, text)


def load_cameras(path: str | Path, *, missing_ok: bool = False) -> list[Camera]:
    """Cameras from YAML; ValueError naming the camera and field on bad input (``missing_ok``: no
    file is no cameras)."""
    path = Path(path)
    if missing_ok and not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read cameras from {path}: {' '.join(str(exc).split())}") from exc
    items = doc.get("cameras") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a non-empty `cameras:` list")
    cams, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("id") or not item.get("url"):
            raise ValueError(f"{path}: camera #{i + 1} needs an id and a url")
        cid = str(item["id"])
        if cid in seen:
            raise ValueError(f"{path}: duplicate camera id {cid!r}")
        seen.add(cid)
        url = expand(str(item["url"]))
        if "://" not in url and not Path(url).is_absolute():
            url = str((path.parent / url).resolve())
        try:
            fps = float(item.get("detect_fps", 2.0))
            zones = parse_zones(item.get("zones"), f"{path}: camera {cid!r}")
            min_scores = parse_min_scores(item.get("sensitivity"), f"{path}: camera {cid!r}")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: camera {cid!r}: {exc}") from exc
        if not fps > 0:
            raise ValueError(f"{path}: camera {cid!r}: detect_fps must be > 0")
        cams.append(Camera(cid, url, str(item.get("name", cid)), item.get("location"), fps, zones, min_scores,
                           dict(item)))
    return cams


def find_camera(cameras: list[Camera], camera_id: str) -> Camera:
    for c in cameras:
        if c.id == camera_id:
            return c
    raise ValueError(f"camera {camera_id!r} is not in the camera config (known: {', '.join(c.id for c in cameras)})")
