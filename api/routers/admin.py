"""Registry and administration: cameras, zones, grids, departments (read by every reader role,
written by admins), users and keys (admins), escalation on demand (dispatchers, admins)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal, check_role_scope, hash_password, issue_credential, require
from api.db.models import SEVERITIES, ApiKey, Camera, Department, Grid, User, Zone
from api.schemas.admin import (
    CameraIn,
    CameraOut,
    CameraWithZones,
    DepartmentIn,
    DepartmentOut,
    Escalated,
    GridIn,
    GridOut,
    IssueTypeOut,
    KeyCreated,
    KeyIn,
    KeyOut,
    UserIn,
    UserOut,
    UserPatch,
    ZoneIn,
    ZoneOut,
)
from gridsight.fields import Id as NumericId
from api.services.errors import Conflict, Invalid, NotFound
from api.services.escalation import escalate_overdue
from api.services.notify import commit
from api.services.registry import (
    camera_to_dict,
    department_to_dict,
    grid_to_dict,
    load_grid_index,
    upsert_camera,
    upsert_department,
    upsert_grid,
    upsert_zone,
    zone_to_dict,
)
from api.services.tickets import iso
from api.state import ServiceState, db_session, state

router = APIRouter(prefix="/api/v1", tags=["admin"])
DB = Annotated[Session, Depends(db_session)]
GS = Annotated[ServiceState, Depends(state)]
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
READ = require("registry.read")
ADMIN = require("admin")


def _get(session: Session, model, key, what: str):
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key if not isinstance(key, tuple) else key[-1]}")
    return row


# --- cameras and zones ------------------------------------------------------------------------

@router.get("/cameras", response_model=list[CameraWithZones],
            summary="Cameras with their zones (never the stream URLs)")
def cameras(session: DB, principal: Principal = READ) -> list[dict]:
    zones: dict[str, list] = {}
    for z in session.scalars(select(Zone).order_by(Zone.camera_id, Zone.id)):
        zones.setdefault(z.camera_id, []).append(z)
    return [camera_to_dict(c, zones.get(c.id, [])) for c in session.scalars(select(Camera).order_by(Camera.id))]


@router.get("/cameras/{camera_id}", response_model=CameraWithZones, summary="One camera with its zones")
def camera(camera_id: Id, session: DB, principal: Principal = READ) -> dict:
    cam = _get(session, Camera, camera_id, "camera")
    return camera_to_dict(cam, list(session.scalars(select(Zone).where(Zone.camera_id == cam.id).order_by(Zone.id))))


@router.put("/cameras/{camera_id}", response_model=CameraOut,
            summary="Create or replace a camera (zones are managed separately)")
def put_camera(camera_id: Id, body: CameraIn, session: DB, gs: GS, principal: Principal = ADMIN) -> dict:
    spec = {**body.options, "id": camera_id, "name": body.name or camera_id, "url": body.url,
            "enabled": body.enabled, "location": body.location.model_dump() if body.location else None}
    cam = upsert_camera(session, spec, gs.grids)
    commit(session)
    return camera_to_dict(cam)


@router.delete("/cameras/{camera_id}", status_code=204, summary="Delete a camera and its zones")
def delete_camera(camera_id: Id, session: DB, principal: Principal = ADMIN) -> Response:
    session.delete(_get(session, Camera, camera_id, "camera"))
    commit(session)
    return Response(status_code=204)


@router.get("/cameras/{camera_id}/zones", response_model=list[ZoneOut], summary="A camera's zones")
def zones(camera_id: Id, session: DB, principal: Principal = READ) -> list[dict]:
    _get(session, Camera, camera_id, "camera")
    return [zone_to_dict(z) for z in session.scalars(select(Zone).where(Zone.camera_id == camera_id).order_by(Zone.id))]


@router.put("/cameras/{camera_id}/zones/{zone_id}", response_model=ZoneOut, summary="Create or replace a zone")
def put_zone(camera_id: Id, zone_id: Id, body: ZoneIn, session: DB, principal: Principal = ADMIN) -> dict:
    _get(session, Camera, camera_id, "camera")
    try:
        zone = upsert_zone(session, camera_id, {**body.options, "id": zone_id, "kind": body.kind,
                                                "polygon": body.polygon})
    except ValueError as exc:
        raise Invalid(("body", "polygon"), str(exc)) from None
    commit(session)
    return zone_to_dict(zone)


@router.delete("/cameras/{camera_id}/zones/{zone_id}", status_code=204, summary="Delete a zone")
def delete_zone(camera_id: Id, zone_id: Id, session: DB, principal: Principal = ADMIN) -> Response:
    session.delete(_get(session, Zone, (camera_id, zone_id), "zone"))
    commit(session)
    return Response(status_code=204)


# --- issue types, grids and departments -------------------------------------------------------

@router.get("/issue-types", response_model=list[IssueTypeOut],
            summary="Issue types: category code, English and Chinese names, routing, SLA")
def issue_types(gs: GS, principal: Principal = READ) -> list[dict]:
    rules = gs.rules
    return [{"key": t.key, "category_code": t.category, "name_en": t.name_en, "name_zh": t.name_zh,
             "severity": t.severity, "department_id": rules.department_for(t.key),
             "auto_dispatch": rules.auto_dispatches(t.key),
             "sla_s": {sev: int(rules.sla_for(t.key, sev).total_seconds()) for sev in SEVERITIES}}
            for t in rules.issue_types.values()]


@router.get("/grids", response_model=list[GridOut], summary="City-management grids ([lat, lon] polygons)")
def grids(session: DB, principal: Principal = READ) -> list[dict]:
    return [grid_to_dict(g) for g in session.scalars(select(Grid).order_by(Grid.id))]


@router.get("/grids/{grid_id}", response_model=GridOut, summary="One grid")
def grid(grid_id: Id, session: DB, principal: Principal = READ) -> dict:
    return grid_to_dict(_get(session, Grid, grid_id, "grid"))


@router.put("/grids/{grid_id}", response_model=GridOut,
            summary="Create or replace a grid (new tickets are routed by it at once)")
def put_grid(grid_id: Id, body: GridIn, session: DB, gs: GS, principal: Principal = ADMIN) -> dict:
    try:
        g = upsert_grid(session, grid_id, body.name, body.polygon)
    except ValueError as exc:
        raise Invalid(("body", "polygon"), str(exc)) from None
    session.flush()
    index = load_grid_index(session)
    commit(session)
    gs.grids = index
    return grid_to_dict(g)


@router.delete("/grids/{grid_id}", status_code=204, summary="Delete a grid (its tickets keep no grid)")
def delete_grid(grid_id: Id, session: DB, gs: GS, principal: Principal = ADMIN) -> Response:
    session.delete(_get(session, Grid, grid_id, "grid"))
    session.flush()
    index = load_grid_index(session)
    commit(session)
    gs.grids = index
    return Response(status_code=204)


@router.get("/departments", response_model=list[DepartmentOut], summary="Departments that handle tickets")
def departments(session: DB, principal: Principal = READ) -> list[dict]:
    return [department_to_dict(d) for d in session.scalars(select(Department).order_by(Department.id))]


@router.put("/departments/{department_id}", response_model=DepartmentOut, summary="Create or rename a department")
def put_department(department_id: Id, body: DepartmentIn, session: DB, principal: Principal = ADMIN) -> dict:
    d = upsert_department(session, department_id, body.name_en, body.name_zh)
    commit(session)
    return department_to_dict(d)


@router.delete("/departments/{department_id}", status_code=204, summary="Delete a department")
def delete_department(department_id: Id, session: DB, gs: GS, principal: Principal = ADMIN) -> Response:
    routed = set(gs.rules.routing.values()) | {gs.rules.default_department}
    if department_id in routed:
        raise Conflict(f"department {department_id} is a routing target in configs/dispatch.yaml; "
                       "change the routing first", None, [])
    session.delete(_get(session, Department, department_id, "department"))
    commit(session)
    return Response(status_code=204)


# --- users and keys -------------------------------------------------------------------------

def user_to_dict(u: User) -> dict:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "department_id": u.department_id, "grid_id": u.grid_id, "active": u.active,
            "has_password": bool(u.password_hash), "created_at": iso(u.created_at)}


def _check_user(session: Session, role: str, department_id: str | None, grid_id: str | None) -> None:
    try:
        check_role_scope(role, department_id, grid_id)
    except ValueError as exc:
        raise Invalid(("body", "role"), str(exc)) from None
    if department_id and session.get(Department, department_id) is None:
        raise Invalid(("body", "department_id"), f"no department {department_id!r}")
    if grid_id and session.get(Grid, grid_id) is None:
        raise Invalid(("body", "grid_id"), f"no grid {grid_id!r}")


@router.get("/admin/users", response_model=list[UserOut], summary="Users")
def users(session: DB, principal: Principal = ADMIN) -> list[dict]:
    return [user_to_dict(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("/admin/users", response_model=UserOut, status_code=201, summary="Create a user")
def create_user(body: UserIn, session: DB, gs: GS, principal: Principal = ADMIN) -> dict:
    _check_user(session, body.role, body.department_id, body.grid_id)
    if session.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise Invalid(("body", "username"), f"user {body.username!r} exists")
    u = User(username=body.username, display_name=body.display_name, role=body.role,
             department_id=body.department_id, grid_id=body.grid_id, active=True, created_at=gs.clock.now(),
             password_hash=hash_password(body.password) if body.password else None)
    session.add(u)
    commit(session)
    return user_to_dict(u)


@router.get("/admin/users/{user_id}", response_model=UserOut, summary="One user")
def user(user_id: NumericId, session: DB, principal: Principal = ADMIN) -> dict:
    return user_to_dict(_get(session, User, user_id, "user"))


@router.patch("/admin/users/{user_id}", response_model=UserOut, summary="Change a user (role, scope, password, active)")
def patch_user(user_id: NumericId, body: UserPatch, session: DB, gs: GS, principal: Principal = ADMIN) -> dict:
    u = _get(session, User, user_id, "user")
    changes = body.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    for k, v in changes.items():
        setattr(u, k, v)
    _check_user(session, u.role, u.department_id, u.grid_id)
    if password:
        u.password_hash = hash_password(password)
    commit(session)
    gs.auth.forget_all()  # credentials changed: drop this process's cache
    return user_to_dict(u)


def key_to_dict(k: ApiKey) -> dict:
    return {"id": k.id, "user_id": k.user_id, "name": k.name, "kind": k.kind, "prefix": k.prefix,
            "created_at": iso(k.created_at), "expires_at": iso(k.expires_at), "revoked_at": iso(k.revoked_at)}


@router.get("/admin/keys", response_model=list[KeyOut], summary="API keys and tokens (never their secrets)")
def keys(session: DB, principal: Principal = ADMIN) -> list[dict]:
    return [key_to_dict(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.id))]


@router.post("/admin/keys", response_model=KeyCreated, status_code=201,
             summary="Create an API key (the secret is shown once)")
def create_key(body: KeyIn, session: DB, gs: GS, principal: Principal = ADMIN) -> dict:
    u = session.get(User, body.user_id)
    if u is None:
        raise Invalid(("body", "user_id"), f"no user {body.user_id}")
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row, secret = issue_credential(session, u, gs.clock.now(), name=body.name, ttl=ttl)
    commit(session)
    return {**key_to_dict(row), "secret": secret}


@router.delete("/admin/keys/{key_id}", status_code=204, summary="Revoke a key or token")
def revoke_key(key_id: NumericId, session: DB, gs: GS, principal: Principal = ADMIN) -> Response:
    k = _get(session, ApiKey, key_id, "key")
    if k.revoked_at is None:
        k.revoked_at = gs.clock.now()
    commit(session)
    gs.auth.forget_all()
    return Response(status_code=204)


@router.post("/admin/escalate", response_model=Escalated,
             summary="Escalate overdue open tickets now (also runs periodically)")
def escalate(session: DB, gs: GS, principal: Principal = require("escalate")) -> dict:
    tickets = escalate_overdue(session, gs.clock.now())
    numbers = [t.number for t in tickets]
    commit(session)
    return {"escalated": numbers}
