"""Open311 GeoReport v2 at ``/open311/v2/``: civic clients read and file service requests.

Every resource answers in JSON (``.json``) or XML (``.xml``, the spec's required format);
below, ``.json`` stands for either.

* ``GET /open311/discovery.json`` (also ``/open311/v2/discovery.json``, where clients guess it):
  service discovery (the GeoReport v2 endpoint and formats).
* ``GET services.json``: one service per issue type of ``configs/issues.yaml`` (``service_code``
  is the issue type key, ``group`` its category code, the name in English and Chinese).
* ``GET requests.json``: tickets as service requests; parameters ``service_request_id``
  (comma-separated ticket numbers; the others are then ignored), ``service_code``,
  ``start_date``, ``end_date`` (W3C datetimes, default: the last 90 days), ``status``
  (``open``, ``closed``), and ``page_size`` / ``page`` (an extension; at most 1000 a page).
* ``GET requests/{service_request_id}.json``: one ticket.
* ``POST requests.json`` (form-encoded or multipart, as the spec says): a citizen's report. Needs
  ``service_code`` and a location (``lat`` + ``long``) and makes a ticket with
  ``source = upload``; a ``media`` photo is judged by the detector and kept as the ticket's
  (blurred) evidence; the contact fields are kept privately. Answers
  ``[{"service_request_id": "GS-...", ...}]``.
* ``GET media/{token}.jpg``: a public request's image (small, people blurred; revocable link).

Reads: with ``GRIDSIGHT_OPEN311_PUBLIC_READS`` (default on) anyone reads the public requests
(issue types and sources of the settings) and their public fields without a key; a reader key
shows every request of the reader's scope. Filing needs a key of a role that may report
(ingest, operator, dispatcher, admin): the Open311 ``api_key`` field, or ``X-API-Key`` /
``Authorization: Bearer``. Statuses: open = new, dispatched, in_progress, reopened; closed =
resolved, verified, closed, rejected, duplicate; ``status_notes`` says which. Every error under
``/open311/``, unknown paths included, is the spec's list ``[{"code": 404, "description": "..."}]``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.routing import Match

from api.auth import Principal, require
from api.db.models import DONE_STATUSES, OPEN_STATUSES, Department, Ticket, TicketEvent
from api.db.open311 import Reporter
from api.routers.open311_format import Open311Error, Open311Route, check_format, respond
from api.schemas.incidents import DetectionIn, EvidenceRef, IncidentIn
from api.schemas.open311 import (
    REQUEST_FORM,
    Discovery,
    PublicLink,
    ReporterOut,
    RequestFiled,
    Service,
    ServiceDefinition,
    ServiceRequest,
    documented,
)
from gridsight.fields import MAX_YEAR, MIN_YEAR, Instant
from api.services.errors import NotFound, ServiceError
from api.services.evidence import read_image
from api.services.incidents import ingest_incident
from api.services.notify import commit
from api.services.open311_reports import contact_fields, judge_photo
from api.services.public_media import MEDIA_PATH, is_public, media_tokens, public_clauses, rendition, set_link
from api.services.tickets import TicketFilters, check_scope, evidence_url, filter_tickets, find_ticket, get_ticket, iso
from api.state import ServiceState

BASE = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-03T00:00:00Z"
router = APIRouter(tags=["open311"], route_class=Open311Route)
staff = APIRouter(prefix="/api/v1/tickets")  # the ticket API's usual errors; tagged open311 by `router`
CLOSED_STATUSES = (*DONE_STATUSES, "rejected", "duplicate")
REPORT_ACTION = "open311_report"
MAX_PAGE = 1000
DEFAULT_WINDOW = timedelta(days=90)


def open311_status(status: str) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def status_notes(t, full: bool) -> str:
    if full and t.status == "rejected":
        return f"rejected: {t.reason or 'not a real problem'}"
    if full and t.status == "duplicate":
        return f"duplicate of ticket {t.duplicate_of_id}"
    return t.status.replace("_", " ")


INSTANT = TypeAdapter(Instant)


def parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C datetime like 2026-11-28T06:00:00Z") from None
    if dt.tzinfo is None:
        raise Open311Error(400, f"{name} needs a timezone (e.g. Z or +08:00)")
    try:
        return INSTANT.validate_python(dt)
    except ValidationError:
        raise Open311Error(400, f"{name} is out of range (years {MIN_YEAR}..{MAX_YEAR})") from None


def _secret(request: Request, api_key: str | None) -> str | None:
    secret = api_key or request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not secret and auth.lower().startswith("bearer "):
        secret = auth[7:].strip()
    return secret or None


def authenticate(request: Request, api_key: str | None) -> Principal:
    secret = _secret(request, api_key)
    if not secret:
        raise Open311Error(401, "api_key required (or X-API-Key / Authorization: Bearer)")
    principal = request.app.state.auth.authenticate(secret)
    if principal is None:
        raise Open311Error(401, "invalid, expired or revoked api_key")
    return principal


def reader(request: Request, api_key: str | None) -> Principal | None:
    """Who reads: a reader's principal, or None for the public (no key, public reads on)."""
    if _secret(request, api_key) is None and request.app.state.gs.settings.open311_public_reads:
        return None
    principal = authenticate(request, api_key)
    if not principal.may("tickets.read"):
        raise Open311Error(403, f"role {principal.role} may not read service requests")
    return principal


def as_request(t: Ticket, departments: dict[str, str], description: str | None,
               media_url: str | None, full: bool) -> dict:
    """A ticket as a GeoReport v2 request; ``full``: for a reader with a key (scope checked)."""
    seen = f" seen by camera {t.camera_id}" if t.camera_id else " reported by a citizen" if t.source == "upload" else ""
    return {
        "service_request_id": t.number,
        "status": open311_status(t.status),
        "status_notes": status_notes(t, full),
        "service_name": t.name_en,
        "service_code": t.issue_type,
        "description": description or f"{t.name_en} / {t.name_zh}{seen}",
        "agency_responsible": departments.get(t.department_id or "", t.department_id),
        "service_notice": "",
        "requested_datetime": iso(t.created_at),
        "updated_datetime": iso(t.updated_at),
        "expected_datetime": iso(t.due_at),
        "address": t.address,
        "address_id": None,
        "zipcode": None,
        "lat": t.lat,
        "long": t.lon,
        "media_url": media_url,
    }


def render(gs: ServiceState, session, tickets: list[Ticket], base: str, principal: Principal | None) -> list[dict]:
    """The requests of ``tickets`` as ``principal`` (None: the public) may see them."""
    departments = {d.id: d.name_en for d in session.scalars(select(Department))}
    descriptions: dict[int, str | None] = {}
    if tickets and (gs.settings.open311_public_description or (principal and principal.may("reporter.read"))):
        rows = session.execute(select(Reporter.ticket_id, Reporter.description)
                               .where(Reporter.ticket_id.in_([t.id for t in tickets])))
        descriptions = {r.ticket_id: r.description for r in rows}
    tokens = media_tokens(session, gs.settings, tickets, gs.clock.now())

    def media(t: Ticket) -> str | None:
        if t.id in tokens:
            return base + MEDIA_PATH.format(token=tokens[t.id])
        kinds = [e.get("kind") for e in (t.evidence or [])]
        kind = "annotated" if "annotated" in kinds else (kinds[0] if kinds else None)
        return base + evidence_url(t.id, kind) if principal is not None and kind else None

    return [as_request(t, departments, descriptions.get(t.id), media(t), principal is not None)
            for t in tickets]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _run(fmt: str, fn, *args) -> Response:
    check_format(fmt)
    return await run_in_threadpool(fn, *args)


def _discovery(request: Request) -> dict:
    return {"changeset": CHANGESET, "contact": "the city's GridSight operators",
            "key_service": "ask an administrator for an API key (gridsight api create-key); reading needs none",
            "endpoints": [{"specification": SPEC, "url": _base(request) + BASE, "changeset": CHANGESET,
                           "type": "production", "formats": ["application/json", "text/xml"]}]}


@router.get("/open311/discovery.{fmt}", response_model=Discovery, responses=documented(),
            summary="Open311 service discovery (where GeoReport v2 lives)")
@router.get(BASE + "/discovery.{fmt}", response_model=Discovery, responses=documented(),
            summary="Open311 service discovery, where clients also look for it")
async def discovery(request: Request, fmt: str) -> Response:
    return await _run(fmt, lambda: respond(_discovery(request), fmt, "discovery"))


@router.get(BASE + "/services.{fmt}", response_model=list[Service], responses=documented(),
            summary="Open311 service list: one service per issue type (json or xml)")
async def services(request: Request, fmt: str) -> Response:
    rules = request.app.state.gs.rules
    return await _run(fmt, lambda: respond(_services(rules), fmt, "services"))


def _services(rules) -> list[dict]:
    return [{"service_code": t.key, "service_name": t.name_en,
             "description": f"{t.name_en} / {t.name_zh} (category {t.category}, default severity {t.severity})",
             "metadata": False, "type": "realtime", "keywords": t.name_zh, "group": t.category}
            for t in rules.issue_types.values()]


@router.get(BASE + "/services/{service_code}.{fmt}", response_model=ServiceDefinition, responses=documented(),
            summary="Open311 service definition (no extra attributes)")
async def service_definition(request: Request, service_code: str, fmt: str) -> Response:
    def run():
        if service_code not in request.app.state.gs.rules.issue_types:
            raise Open311Error(404, f"no service {service_code!r}; see services.{fmt}")
        return respond({"service_code": service_code, "attributes": []}, fmt, "service_definition")

    return await _run(fmt, run)


@router.get(BASE + "/requests.{fmt}", response_model=list[ServiceRequest], responses=documented(),
            summary="Open311 service requests (tickets; json or xml; no key: public ones)")
async def list_requests(request: Request, fmt: str, api_key: str | None = None, service_request_id: str | None = None,
                        service_code: str | None = None, start_date: str | None = None,
                        end_date: str | None = None, status: str | None = None,
                        page_size: int = 100, page: int = 1, jurisdiction_id: str | None = None):
    gs: ServiceState = request.app.state.gs

    def run():
        principal = reader(request, api_key)
        if not 1 <= page_size <= MAX_PAGE or not 1 <= page <= 1_000_000:
            raise Open311Error(400, f"page_size must be 1..{MAX_PAGE} and page 1..1000000")
        with gs.sessions() as session:
            if service_request_id:
                refs = [r for r in service_request_id.split(",") if r.strip()][:MAX_PAGE]
                tickets = [t for t in (_visible(gs, session, ref, principal) for ref in refs) if t is not None]
                return respond(render(gs, session, tickets, _base(request), principal), fmt, "service_requests")
            stmt = filter_tickets(select(Ticket), _filters(gs, service_code, status, start_date, end_date, fmt),
                                  principal)
            if principal is None:
                stmt = stmt.where(*public_clauses(gs.settings))
            stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(page_size).offset(
                (page - 1) * page_size)
            tickets = list(session.scalars(stmt))
            return respond(render(gs, session, tickets, _base(request), principal), fmt, "service_requests")

    return await _run(fmt, run)


def _filters(gs: ServiceState, service_code, status, start_date, end_date, fmt: str) -> TicketFilters:
    f = TicketFilters()
    if service_code:
        codes = [c.strip() for c in service_code.split(",") if c.strip()]
        unknown = [c for c in codes if c not in gs.rules.issue_types]
        if unknown:
            raise Open311Error(400, f"unknown service_code {', '.join(unknown)}; see services.{fmt}")
        f.issue_type = codes
    if status:
        wanted = {s.strip() for s in status.split(",") if s.strip()}
        if not wanted <= {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or open,closed")
        f.status = [*(OPEN_STATUSES if "open" in wanted else ()), *(CLOSED_STATUSES if "closed" in wanted else ())]
    f.created_from, f.created_to = parse_time(start_date, "start_date"), parse_time(end_date, "end_date")
    if f.created_from and f.created_to and f.created_to <= f.created_from:
        raise Open311Error(400, "end_date must be after start_date")
    if not f.created_from and not f.created_to:
        f.created_from = gs.clock.now() - DEFAULT_WINDOW
    return f


def _visible(gs: ServiceState, session, ref: str, principal: Principal | None) -> Ticket | None:
    """The ticket ``ref`` if the reader may see it (the public: public ones only), else None."""
    try:
        t = find_ticket(session, ref)
        if principal is not None:
            check_scope(principal, t)
    except ServiceError:  # NotFound, Forbidden: not listed
        return None
    return t if principal is not None or is_public(gs.settings, t.issue_type, t.source) else None


@router.get(BASE + "/requests/{service_request_id}.{fmt}", response_model=list[ServiceRequest],
            responses=documented(), summary="One Open311 service request (json or xml)")
async def get_request(request: Request, service_request_id: str, fmt: str, api_key: str | None = None,
                      jurisdiction_id: str | None = None):
    gs: ServiceState = request.app.state.gs

    def run():
        principal = reader(request, api_key)
        with gs.sessions() as session:
            t = find_ticket(session, service_request_id)
            if principal is not None:
                check_scope(principal, t)
            elif not is_public(gs.settings, t.issue_type, t.source):
                raise Open311Error(404, f"no ticket {service_request_id}")
            return respond(render(gs, session, [t], _base(request), principal), fmt, "service_requests")

    return await _run(fmt, run)


@router.get(BASE + "/media/{token}.jpg", summary="A public request's image (small, people blurred; no key)",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def public_media(request: Request, token: str) -> Response:
    data = await run_in_threadpool(rendition, request.app.state.gs, token[:64])
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=3600"})


@router.post(BASE + "/requests.{fmt}", summary="File an Open311 service request (form fields, optional media "
                                               "photo; json or xml answer)", status_code=201,
             response_model=list[RequestFiled], responses=documented(201), openapi_extra=REQUEST_FORM)
async def create_request(request: Request, fmt: str) -> Response:
    gs: ServiceState = request.app.state.gs
    check_format(fmt)
    form = await request.form(max_files=1, max_fields=100)
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        media = form.get("media")
        media = media if isinstance(media, UploadFile) and (media.filename or media.size) else None
        return await run_in_threadpool(_file_report, gs, request, fmt, fields, media)
    finally:
        await form.close()


def _file_report(gs: ServiceState, request: Request, fmt: str, fields: dict, media: UploadFile | None) -> Response:
    principal = authenticate(request, fields.get("api_key"))
    if not (principal.may("detect") or principal.may("incidents.write")):
        raise Open311Error(403, f"role {principal.role} may not file service requests")
    code = fields.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required; see services.json")
    if code not in gs.rules.issue_types:
        raise Open311Error(400, f"unknown service_code {code!r}; see services.json")
    contact = contact_fields(fields)
    try:
        inc = IncidentIn(key=f"open311:{uuid.uuid4()}", seq=1, event="open", issue_type=code, source="upload",
                         location=_location(fields))
    except ValidationError as e:
        raise Open311Error(400, "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}"
                                          for x in e.errors(include_url=False))) from None
    data: dict = {}
    if media is not None:  # checked, judged and stored before the ticket's transaction
        photo = judge_photo(gs, read_image(media.file, media.filename or "media", "media",
                                           gs.settings.upload_max_bytes, gs.settings.upload_max_pixels))
        inc = inc.model_copy(update={"detections": [DetectionIn(**d) for d in photo.subjects],
                                     "evidence": [EvidenceRef(**e) for e in photo.evidence], "score": photo.score})
        data["detected"] = photo.findings
    if media_url := fields.get("media_url", "").strip()[:1000]:
        data["media_url"] = media_url
    now = gs.clock.now()
    with gs.sessions() as session:
        result = ingest_incident(session, inc, principal, now, gs.rules, gs.grids)
        session.add(TicketEvent(ticket_id=result.ticket_id, at=now, actor=principal.username, action=REPORT_ACTION,
                                from_status=None, to_status=None, note=None, data=data or None))
        if any(contact.values()):
            session.add(Reporter(ticket_id=result.ticket_id, at=now, **contact))
        commit(session)
    return respond([{"service_request_id": result.number, "service_notice": "", "account_id": None}],
                   fmt, "service_requests", 201)


def _location(fields: dict) -> dict:
    lat, lon, address = fields.get("lat"), fields.get("long"), fields.get("address_string")
    if lat and lon:
        try:
            return {"lat": float(lat), "lon": float(lon), "address": address or None}
        except ValueError:
            raise Open311Error(400, "lat and long must be numbers") from None
    if lat or lon:
        raise Open311Error(400, "give both lat and long")
    if address:
        raise Open311Error(400, "address_string alone cannot be placed on the map here (no geocoder "
                                "offline); send lat and long too")
    raise Open311Error(400, "a location is required: lat and long (and optionally address_string)")


# --- staff: the reporter's contact, the public link (the ticket API's errors) ---------------------

@staff.get("/{ref}/reporter", response_model=ReporterOut,
           summary="Who filed an Open311 request: name, e-mail, phone, description (private)",
           responses={404: {"description": "no such ticket, or it was not filed with contact fields"}})
def reporter(ref: str, request: Request, principal: Principal = require("reporter.read")) -> dict:
    with request.app.state.gs.sessions() as session:
        ticket = get_ticket(session, ref, principal)
        row = session.get(Reporter, ticket.id)
        if row is None:
            raise NotFound(f"ticket {ticket.number} has no reporter's contact")
        return {"ticket": ticket.number, "at": iso(row.at), "first_name": row.first_name,
                "last_name": row.last_name, "email": row.email, "phone": row.phone, "description": row.description}


def _link(request: Request, ref: str, principal: Principal, revoke: bool) -> dict:
    gs: ServiceState = request.app.state.gs
    with gs.sessions() as session:
        ticket = get_ticket(session, ref, principal)
        row = set_link(session, ticket, gs.clock.now(), revoke=revoke)
        session.commit()
        return {"ticket": ticket.number, "revoked": row.revoked_at is not None,
                "media_url": None if revoke else _base(request) + MEDIA_PATH.format(token=row.token)}


@staff.post("/{ref}/public-media/revoke", response_model=PublicLink,
            summary="Withdraw the public image of a ticket (its link stops working)")
def revoke_public_media(ref: str, request: Request, principal: Principal = require("admin")) -> dict:
    return _link(request, ref, principal, revoke=True)


@staff.post("/{ref}/public-media/renew", response_model=PublicLink,
            summary="Give a ticket's public image a new link (the old one stops working)")
def renew_public_media(ref: str, request: Request, principal: Principal = require("admin")) -> dict:
    return _link(request, ref, principal, revoke=False)


CATCH_ALL = "/open311/{path:path}"


@router.api_route(CATCH_ALL, methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def not_found(request: Request, path: str) -> Response:
    """Anything else under /open311/: 405 where another method would answer, else 404."""
    allowed = sorted({m for r in router.routes if getattr(r, "path", None) != CATCH_ALL
                      and r.matches(request.scope)[0] == Match.PARTIAL for m in getattr(r, "methods", ())})
    if allowed:
        raise Open311Error(405, f"{request.method} is not allowed here; use {', '.join(allowed)}")
    raise Open311Error(404, f"no Open311 resource /open311/{path}; see {BASE}/services.json and "
                            f"/open311/discovery.json")


router.include_router(staff)
