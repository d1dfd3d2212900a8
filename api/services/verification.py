"""Verification of a fix: the camera (the pipeline re-watched the place) or an "after" photo.

One rule for both, applied to a ``resolved`` ticket:

* ``still_present``: the ticket is **reopened** with the fresh evidence (it replaces the ticket's
  evidence and detections) and a history event saying who saw it (``camera:<id>`` or the photo);
* ``gone``: the ticket is **verified**; the "after" image is kept beside the "before" one (the
  ticket's annotated evidence) as one side-by-side JPEG;
* ``camera_offline``: nothing is guessed: the ticket stays resolved and its history says why.
  The camera is asked again :data:`OFFLINE_RETRY_AFTER` later, up to :data:`OFFLINE_TRIES` checks
  of one resolve; after that a person verifies it.

An "after" photo is judged by the core's single-frame judgement (:func:`judge_photo`), as an
upload or a camera frame would be: the ticket's rule at the ticket's zone of its camera (so take
the photo as the camera sees the place, or use the camera's own snapshot), on the whole picture
when the ticket has no zone (uploads without a camera, rules for anywhere).

Each check is a :class:`~api.db.loop.Verification` row (what was seen, over which window, the
images). The pipeline never edits a ticket's status: it reports, this module decides.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from api.db.loop import Verification
from api.db.models import Ticket
from api.services.errors import Conflict, Invalid
from api.services.evidence import store_evidence
from api.services.lifecycle import allowed_actions, record, transition
from api.services.rules import DispatchRules
from api.services.tickets import API, iso
from gridsight.issues import Detections, Finding, IssueRule, Zone, judge, places, whole_frame

log = logging.getLogger("gridsight.api.verification")
IMAGE_KINDS = ("before", "after_raw", "after_annotated", "after_crop", "before_after")
OFFLINE_TRIES = 3  # camera checks of one resolve that may find the camera offline
OFFLINE_RETRY_AFTER = timedelta(minutes=10)  # before the camera is asked again
OFFLINE = Verification.outcome == "camera_offline"
NOTES = {  # the history note of a reopen / verify: by outcome, then (photo, camera)
    "still_present": ("the after photo still shows {classes} / 复核照片：问题仍在",
                      "camera {camera} still sees {name} at {where} after the resolve ({seen}{span}) / 摄像头复核：问题仍在"),
    "gone": ("the after photo shows no {name} / 复核照片：已消除",
             "camera {camera}: {where} clear after the resolve ({seen} still showed it{span}) / 摄像头复核：已消除"),
}


def _camera_check_of(ticket_id, resolved_at):
    """Camera verifications of one resolve of a ticket (values, or the Ticket columns in a subquery)."""
    return and_(Verification.ticket_id == ticket_id, Verification.method == "camera",
                Verification.resolved_at == resolved_at)


def require_resolved(ticket: Ticket, resolved_at: datetime | None = None) -> None:
    """Conflict unless the ticket is resolved (and, when given, by the resolve that was checked)."""
    if ticket.status != "resolved":
        raise Conflict(f"ticket {ticket.number} is {ticket.status}: only a resolved ticket is verified",
                       ticket.status, allowed_actions(ticket.status))
    if resolved_at is not None and ticket.resolved_at is not None and abs(
            (ticket.resolved_at - resolved_at).total_seconds()) > 0.001:
        raise Conflict(f"ticket {ticket.number} was resolved again at {iso(ticket.resolved_at)}; this check was "
                       f"for the resolve at {iso(resolved_at)}", ticket.status, allowed_actions(ticket.status))


def judge_photo(dets: Detections, shape: tuple[int, ...], rule: IssueRule, zones: list[Zone], zone_id: str | None,
                *, min_scores=None, operating_points=None) -> Finding:
    """Whether ``rule`` still holds on an after photo at the ticket's place (``zone_id`` among the
    camera's ``zones``; the whole picture when there is no such zone for the rule)."""
    zone = next((z for z in zones if z.id == zone_id), None)
    where = [zone] if zone is not None and places(rule, [zone]) else [whole_frame()]
    (found,) = judge(dets, shape, [rule], where, min_scores=min_scores, operating_points=operating_points)
    return found


def before_image(ticket: Ticket) -> dict | None:
    for kind in ("annotated", "raw"):
        for e in ticket.evidence or []:
            if e.get("kind") == kind:
                return e
    return None


def apply(session: Session, ticket: Ticket, *, method: str, outcome: str, actor, actor_name: str, now: datetime,
          rules: DispatchRules, store, after: dict[str, dict] | None = None, after_bytes: bytes | None = None,
          detections: list[dict] | None = None, score: float | None = None, frames: int = 0,
          present_frames: int = 0, window: tuple[datetime | None, datetime | None] = (None, None),
          reason: str | None = None) -> Verification:
    """Apply one check's outcome to ``ticket`` (loaded for update, resolved). ``after``: evidence
    refs by kind (``raw``, ``annotated``) already in the store; ``after_bytes``: the after image
    shown beside the before one."""
    after = after or {}
    if outcome in ("still_present", "gone") and not after:
        raise Invalid(("body", "evidence_raw"), f"outcome {outcome} needs the image it was judged on")
    if outcome == "camera_offline" and not (reason and reason.strip()):
        raise Invalid(("body", "reason"), "say why the camera could not verify (e.g. offline since 10:02)")
    checked = ticket.resolved_at  # a reopen clears it
    before = before_image(ticket)
    images = [] if before is None else [{**before, "kind": "before"}]
    images += [{**ref, "kind": f"after_{kind}"} for kind, ref in after.items() if kind != "original"]
    if outcome == "still_present":
        ticket.evidence = [after[k] for k in ("annotated", "raw", "crop", "original") if k in after]
        if detections is not None:
            ticket.detections = detections
        if score is not None:
            ticket.score = score
        if window[1] is not None and window[1] > ticket.last_seen_at:
            ticket.last_seen_at = window[1]
    elif outcome == "gone":
        composite = _beside(store, before, after_bytes)
        if composite is not None:
            images.append(composite)
    if outcome in NOTES:
        applied = "reopen" if outcome == "still_present" else "verify"
        note = NOTES[outcome][method == "camera"].format(
            camera=ticket.camera_id, name=ticket.name_en, where=_where(ticket), span=_span(window),
            seen=f"{present_frames}/{frames} frames", classes=_classes(detections))
        transition(session, ticket, applied, actor, now, rules, note=note)
    elif outcome == "camera_offline":
        tries = 1 + (0 if method != "camera" else session.scalar(
            select(func.count()).select_from(Verification).where(_camera_check_of(ticket.id, checked), OFFLINE)))
        minutes = f"{OFFLINE_RETRY_AFTER.total_seconds() / 60:.0f}"
        then = (f"the camera is asked again in {minutes} min (check {tries} of {OFFLINE_TRIES}) / "
                f"{minutes} 分钟后再次复核" if tries < OFFLINE_TRIES else "a person must verify it / 请人工复核")
        record(session, ticket, actor, "verification", now, ticket.status, ticket.status,
               f"camera {ticket.camera_id} could not verify the fix: {reason.strip()}; the ticket stays resolved; "
               f"{then} / 摄像头无法复核，工单保持已解决", {"outcome": outcome, "check": tries})
        ticket.updated_at = now
        applied = "note"
    else:
        raise Invalid(("body", "outcome"), "outcome must be still_present, gone or camera_offline")
    row = Verification(ticket_id=ticket.id, method=method, outcome=outcome, applied=applied, at=now,
                       actor=actor_name, resolved_at=checked,
                       window_start=window[0], window_end=window[1], frames=frames, present_frames=present_frames,
                       note=(reason or "").strip() or None, detections=detections or [], images=images)
    session.add(row)
    session.flush()
    return row


def _where(ticket: Ticket) -> str:
    return f"zone {ticket.zone_id}" if ticket.zone_id else "the whole view"


def _span(window) -> str:
    a, b = window
    return f" over {(b - a).total_seconds():.0f} s" if a and b else ""


def _classes(detections) -> str:
    names = sorted({d["class_name"] for d in detections or []})
    return ", ".join(names) or "the problem"


def _beside(store, before: dict | None, after_bytes: bytes | None) -> dict | None:
    """The before and after images side by side, labelled, as one stored JPEG ref (None if either is missing)."""
    if before is None or not after_bytes:
        return None
    try:
        before_bytes = store.get(before["object_key"])
    except Exception:  # the before image is gone from the store: verify anyway, without the pair
        log.warning("before image not in the store; no side-by-side image", extra={"key": before.get("object_key")})
        return None
    from PIL import Image, ImageDraw

    from gridsight.evidence import font

    try:
        a = Image.open(io.BytesIO(before_bytes)).convert("RGB")
        b = Image.open(io.BytesIO(after_bytes)).convert("RGB")
    except OSError:
        return None
    h = min(720, max(a.height, b.height))
    a = a.resize((max(1, round(a.width * h / a.height)), h))
    b = b.resize((max(1, round(b.width * h / b.height)), h))
    gap = 8
    out = Image.new("RGB", (a.width + gap + b.width, h), (255, 255, 255))
    out.paste(a, (0, 0))
    out.paste(b, (a.width + gap, 0))
    draw = ImageDraw.Draw(out)
    size = max(14, h // 22)
    for x, label in ((0, "BEFORE 处理前"), (a.width + gap, "AFTER 处理后")):
        box = draw.textbbox((0, 0), label, font=font(size))
        y = h - (box[3] - box[1]) - 18
        draw.rectangle([x, y - 6, x + box[2] + 16, h], fill=(0, 0, 0))
        draw.text((x + 8, y - 4), label, font=font(size), fill=(255, 255, 255))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=88)
    return {**store_evidence(store, buf.getvalue(), "image/jpeg", "before_after")}


def pending_camera_checks(session: Session, cameras: list[str] | None = None, limit: int = 100,
                          now: datetime | None = None) -> list[Ticket]:
    """Resolved camera tickets whose latest resolve no camera check has answered yet, oldest first.
    A check that found the camera offline answers nothing: the ticket is pending again
    :data:`OFFLINE_RETRY_AFTER` after it, until :data:`OFFLINE_TRIES` checks found it offline."""
    this_resolve = _camera_check_of(Ticket.id, Ticket.resolved_at)
    answered = exists().where(this_resolve, ~OFFLINE)
    offline_tries = select(func.count()).select_from(Verification).where(this_resolve, OFFLINE).scalar_subquery()
    stmt = select(Ticket).where(Ticket.status == "resolved", Ticket.source == "camera", Ticket.camera_id.is_not(None),
                                ~answered, offline_tries < OFFLINE_TRIES)
    if now is not None:
        stmt = stmt.where(~exists().where(this_resolve, OFFLINE, Verification.at > now - OFFLINE_RETRY_AFTER))
    if cameras:
        stmt = stmt.where(Ticket.camera_id.in_(cameras))
    return list(session.scalars(stmt.order_by(Ticket.resolved_at, Ticket.id).limit(limit)))


def verifications_of(session: Session, ticket: Ticket) -> list[Verification]:
    return list(session.scalars(select(Verification).where(Verification.ticket_id == ticket.id)
                                .order_by(Verification.at, Verification.id)))


def verification_to_dict(v: Verification) -> dict:
    base = f"{API}/tickets/{v.ticket_id}/verifications/{v.id}/image"
    return {"id": v.id, "ticket_id": v.ticket_id, "method": v.method, "outcome": v.outcome, "applied": v.applied,
            "at": iso(v.at), "actor": v.actor, "resolved_at": iso(v.resolved_at), "window_start": iso(v.window_start),
            "window_end": iso(v.window_end), "frames": v.frames, "present_frames": v.present_frames, "note": v.note,
            "detections": v.detections or [],
            "images": [{**i, "url": f"{base}?kind={i['kind']}"} for i in v.images or []]}
