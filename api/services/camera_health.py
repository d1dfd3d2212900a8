"""Camera health as the ticket service sees it: online or not, last frame, open incidents.

The service never watches a camera; it learns about one from two places:

* the camera's lease in Redis (``gs:lease:<camera>``), held by the worker watching it when cameras
  run on distributed workers (``gridsight worker --cameras``);
* the incidents it posts: the footage time of the last frame an incident was seen on
  (``last_seen_at``), and the incidents still open.

A camera is ``online`` when a worker holds its lease or an incident was seen on it within
:data:`RECENT`; ``offline`` when workers are leasing cameras and none holds this one; else
``unknown`` (a quiet camera watched by ``gridsight watch`` posts nothing while nothing is wrong).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import OPEN_STATUSES, Camera, Ticket
from api.services.tickets import iso

RECENT = timedelta(minutes=15)  # > the pipeline's 5-minute incident heartbeat


def leases(redis_url: str, cameras: list[str]) -> dict[str, str | None] | None:
    """Who holds each camera's lease, or None when Redis is unreachable or no worker leases cameras."""
    try:
        import redis

        from gridsight.queue import holders, worker_key

        r = redis.Redis.from_url(redis_url, decode_responses=True, socket_connect_timeout=0.5, socket_timeout=1)
        held = holders(r, cameras)
        if not any(held.values()) and next(r.scan_iter(match=worker_key("*"), count=100), None) is None:
            return None  # no worker is running: leases say nothing about these cameras
        return held
    except Exception:  # Redis away or not installed: health from incidents alone
        return None


def camera_health(session: Session, now: datetime, redis_url: str | None) -> list[dict]:
    """One row per camera of the registry (and per camera that posted tickets but is not in it)."""
    is_open = Ticket.status.in_(OPEN_STATUSES)
    stats = {r.camera_id: r for r in session.execute(
        select(Ticket.camera_id, func.max(Ticket.last_seen_at).label("last_frame"),
               func.count().filter(is_open).label("open_tickets"),
               func.count().filter(is_open, Ticket.incident_state == "open").label("open_incidents"))
        .where(Ticket.camera_id.is_not(None)).group_by(Ticket.camera_id))}
    cams = {c.id: c for c in session.scalars(select(Camera).order_by(Camera.id))}
    ids = sorted(set(cams) | set(stats))
    held = leases(redis_url, ids) if redis_url and ids else None
    out = []
    for cid in ids:
        cam, st = cams.get(cid), stats.get(cid)
        last = st.last_frame if st else None
        holder = held.get(cid) if held else None
        if holder or (last is not None and now - last <= RECENT):
            state = "online"
        elif held is not None:
            state = "offline"
        else:
            state = "unknown"
        out.append({"camera_id": cid, "name": cam.name if cam else cid, "registered": cam is not None,
                    "enabled": cam.enabled if cam else None, "state": state, "worker": holder,
                    "last_frame_at": iso(last), "open_tickets": st.open_tickets if st else 0,
                    "open_incidents": st.open_incidents if st else 0,
                    "location": None if cam is None or cam.lat is None or cam.lon is None
                    else {"lat": cam.lat, "lon": cam.lon, "address": cam.address},
                    "grid_id": cam.grid_id if cam else None})
    return out
