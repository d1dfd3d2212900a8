"""The registry: departments, grids, cameras and zones, loaded from configs/ at start-up.

``configs/dispatch.yaml`` gives departments and grids, ``configs/cameras.yaml`` (read by the
core's one loader, :func:`gridsight.issues.load_cameras`) the cameras and their zones, with the
same ids as the pipeline's. Loading adds or updates rows and
never deletes (the admin API may have added more). Camera stream URLs carry credentials: they
are stored, never returned by :func:`camera_to_dict`, never logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Camera, Department, Grid, Zone
from api.services.rules import DispatchRules, GridIndex, GridShape
from gridsight import issues

log = logging.getLogger("gridsight.api.registry")
CAMERA_FIELDS = {"id", "name", "url", "stream_url", "location", "zones", "enabled"}
SECRET_WORDS = ("url", "password", "secret", "token", "credential", "user")  # never kept in options


def upsert_department(session: Session, id: str, name_en: str, name_zh: str = "") -> Department:
    dep = session.get(Department, id) or Department(id=id)
    dep.name_en, dep.name_zh = name_en, name_zh or ""
    session.add(dep)
    return dep


def upsert_grid(session: Session, id: str, name: str, polygon) -> Grid:
    shape = GridShape.make(id, name, polygon)
    grid = session.get(Grid, id) or Grid(id=id)
    grid.name, grid.polygon = name, shape.polygon
    grid.min_lat, grid.min_lon, grid.max_lat, grid.max_lon = shape.bbox
    session.add(grid)
    return grid


def upsert_camera(session: Session, spec: dict, grids: GridIndex) -> Camera:
    """A camera from a cameras.yaml entry (or the admin API's body of the same shape)."""
    cam_id = str(spec["id"])
    cam = session.get(Camera, cam_id) or Camera(id=cam_id)
    loc = spec.get("location") or {}
    cam.name = str(spec.get("name") or cam_id)
    url = spec.get("url") or spec.get("stream_url")
    if url:
        cam.stream_url = str(url)
    cam.lat = float(loc["lat"]) if loc.get("lat") is not None else None
    cam.lon = float(loc["lon"]) if loc.get("lon") is not None else None
    cam.address = loc.get("address")
    cam.grid_id = grids.grid_at(cam.lat, cam.lon)
    cam.enabled = bool(spec.get("enabled", True))
    cam.options = {k: v for k, v in spec.items()
                   if k not in CAMERA_FIELDS and not any(w in k.lower() for w in SECRET_WORDS)}
    session.add(cam)
    session.flush()
    for z in spec.get("zones") or []:
        upsert_zone(session, cam_id, z)
    return cam


def upsert_zone(session: Session, camera_id: str, spec: dict) -> Zone:
    """A zone row, checked as the judgement will read it (kind, polygon, normalized: ValueError)."""
    (checked,) = issues.parse_zones([{**spec, "polygon": spec.get("polygon") or []}], f"camera {camera_id!r}")
    zone = session.get(Zone, (camera_id, checked.id)) or Zone(camera_id=camera_id, id=checked.id)
    zone.kind = checked.kind
    zone.polygon = issues.check_polygon(spec["polygon"])
    zone.options = {k: v for k, v in spec.items() if k not in {"id", "kind", "polygon"}}
    session.add(zone)
    return zone


def judged_zones(zones: list[Zone]) -> list[issues.Zone]:
    """A camera's zone rows as the judgement's zones; a row that no longer reads as a zone (stored
    before zones were checked) is left out with a warning, never failing the request."""
    out = []
    for z in zones:
        try:
            out.append(issues.Zone(z.id, z.kind, z.polygon, bool((z.options or {}).get("normalized"))))
        except ValueError as exc:
            log.warning("zone skipped: it is not a valid zone", extra={"camera": z.camera_id, "zone": z.id,
                                                                       "error": str(exc)})
    return out


def camera_min_scores(cam: Camera | None) -> dict[str, float]:
    """The camera's sensitivity (issue type -> min_score, from cameras.yaml or the admin API's
    ``sensitivity`` option); {} when unset or unreadable."""
    try:
        return issues.parse_min_scores((cam.options or {}).get("sensitivity")) if cam else {}
    except ValueError:
        log.warning("camera sensitivity ignored: not {issue type: {min_score: S}}", extra={"camera": cam.id})
        return {}


def sync_from_configs(session: Session, rules: DispatchRules, cameras_yaml: Path) -> GridIndex:
    """Load departments, grids, cameras and zones into the database; returns the grid index."""
    for d in rules.departments:
        upsert_department(session, d["id"], d.get("name_en", d["id"]), d.get("name_zh", ""))
    for g in rules.grids:
        upsert_grid(session, g.id, g.name, g.polygon)
    session.flush()
    grids = load_grid_index(session)
    cameras = [c.spec for c in issues.load_cameras(cameras_yaml, missing_ok=True)]
    for spec in cameras:
        upsert_camera(session, spec, grids)
    log.debug("registry loaded", extra={"departments": len(rules.departments), "grids": len(grids.grids),
                                       "cameras": len(cameras)})
    return grids


def load_grid_index(session: Session) -> GridIndex:
    rows = session.scalars(select(Grid).order_by(Grid.id)).all()
    return GridIndex([GridShape(g.id, g.name, g.polygon, (g.min_lat, g.min_lon, g.max_lat, g.max_lon))
                      for g in rows])


def camera_to_dict(cam: Camera, zones: list[Zone] | None = None) -> dict:
    """A camera for any caller: never the stream URL, only whether one is set."""
    out = {
        "id": cam.id, "name": cam.name, "enabled": cam.enabled, "has_stream_url": bool(cam.stream_url),
        "location": None if cam.lat is None else {"lat": cam.lat, "lon": cam.lon, "address": cam.address},
        "grid_id": cam.grid_id, "options": cam.options or {},
    }
    if zones is not None:
        out["zones"] = [zone_to_dict(z) for z in zones]
    return out


def zone_to_dict(z: Zone) -> dict:
    return {"id": z.id, "camera_id": z.camera_id, "kind": z.kind, "polygon": z.polygon, "options": z.options or {}}


def grid_to_dict(g: Grid) -> dict:
    return {"id": g.id, "name": g.name, "polygon": g.polygon,
            "bbox": [g.min_lat, g.min_lon, g.max_lat, g.max_lon]}


def department_to_dict(d: Department) -> dict:
    return {"id": d.id, "name_en": d.name_en, "name_zh": d.name_zh}
