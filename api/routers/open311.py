"""Open311 GeoReport v2 at ``/open311/v2/``: civic clients read and file service requests.

Every resource answers in JSON (``.json``) or XML (``.xml``, the spec's required format);
below, ``.json`` stands for either.

* ``GET /open311/discovery.json``: service discovery (the GeoReport v2 endpoint and formats).
* ``GET services.json``: one service per issue type of ``configs/issues.yaml`` (``service_code``
  is the issue type key, ``group`` its category code, the name in English and Chinese).
* ``GET requests.json``: tickets as service requests; parameters ``service_request_id``
  (comma-separated ticket numbers; the others are then ignored), ``service_code``,
  ``start_date``, ``end_date`` (W3C datetimes, default: the last 90 days), ``status``
  (``open``, ``closed``), and ``page_size`` / ``page`` (an extension; at most 1000 a page).
* ``GET requests/{service_request_id}.json``: one ticket.
* ``POST requests.json`` (form-encoded, as the spec says): a citizen's report. Needs
  ``service_code`` and a location (``lat`` + ``long``, or ``address_string``) and makes a
  ticket with ``source = upload``; answers ``[{"service_request_id": "GS-...", ...}]``.

Statuses: open = new, dispatched, in_progress, reopened; closed = resolved, verified, closed,
rejected, duplicate; ``status_notes`` says which. Auth: the Open311 ``api_key`` parameter, or
the usual ``X-API-Key`` / ``Authorization: Bearer``; reading needs a reader role, filing a
role that may report (ingest, operator, dispatcher, admin). Errors follow the spec: an HTTP
4xx with ``[{"code": 400, "description": "..."}]``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from api.auth import Principal
from api.db.models import DONE_STATUSES, OPEN_STATUSES, Department, Ticket, TicketEvent
from api.schemas.incidents import IncidentIn
from api.schemas.open311 import (
    REQUEST_FORM,
    Discovery,
    RequestFiled,
    Service,
    ServiceDefinition,
    ServiceRequest,
    documented,
)
from api.services.errors import ServiceError
from api.services.incidents import ingest_incident
from api.services.notify import commit
from api.routers.open311_format import FormatError, check_format, error_response, respond
from api.services.tickets import TicketFilters, check_scope, evidence_url, filter_tickets, find_ticket, iso

BASE = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
router = APIRouter(tags=["open311"])
CLOSED_STATUSES = (*DONE_STATUSES, "rejected", "duplicate")
REPORT_ACTION = "open311_report"
MAX_PAGE = 1000
DEFAULT_WINDOW = timedelta(days=90)


class Open311Error(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code, self.description = code, description


def open311_status(status: str) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def status_notes(t) -> str:
    if t.status == "rejected":
        return f"rejected: {t.reason or 'not a real problem'}"
    if t.status == "duplicate":
        return f"duplicate of ticket {t.duplicate_of_id}"
    return t.status.replace("_", " ")


def parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C datetime like 2026-11-28T06:00:00Z") from None
    if dt.tzinfo is None:
        raise Open311Error(400, f"{name} needs a timezone (e.g. Z or +08:00)")
    return dt


def authenticate(request: Request, api_key: str | None) -> Principal:
    secret = api_key or request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not secret and auth.lower().startswith("bearer "):
        secret = auth[7:].strip()
    if not secret:
        raise Open311Error(401, "api_key required (or X-API-Key / Authorization: Bearer)")
    principal = request.app.state.auth.authenticate(secret)
    if principal is None:
        raise Open311Error(401, "invalid, expired or revoked api_key")
    return principal


def as_request(t: Ticket, base: str, departments: dict[str, str], description: str | None) -> dict:
    kinds = [e.get("kind") for e in (t.evidence or [])]
    kind = "annotated" if "annotated" in kinds else (kinds[0] if kinds else None)
    return {
        "service_request_id": t.number,
        "status": open311_status(t.status),
        "status_notes": status_notes(t),
        "service_name": t.name_en,
        "service_code": t.issue_type,
        "description": description or f"{t.name_en} / {t.name_zh}"
                                      + (f" seen by camera {t.camera_id}" if t.camera_id else ""),
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
        "media_url": base + evidence_url(t.id, kind) if kind else None,
    }


def render(session, tickets: list[Ticket], base: str) -> list[dict]:
    departments = {d.id: d.name_en for d in session.scalars(select(Department))}
    notes: dict[int, str] = {}
    if tickets:
        rows = session.execute(select(TicketEvent.ticket_id, TicketEvent.note).where(
            TicketEvent.action == REPORT_ACTION, TicketEvent.ticket_id.in_([t.id for t in tickets])))
        notes = {r.ticket_id: r.note for r in rows}
    return [as_request(t, base, departments, notes.get(t.id)) for t in tickets]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _guard(fmt: str, fn, *args) -> Response:
    try:
        check_format(fmt)
        return await run_in_threadpool(fn, *args)
    except FormatError as e:
        return error_response(404, str(e))
    except Open311Error as e:
        return error_response(e.code, e.description, fmt)
    except ServiceError as e:
        return error_response(400 if e.status_code == 422 else e.status_code, e.detail, fmt)


@router.get("/open311/discovery.{fmt}", response_model=Discovery, responses=documented(),
            summary="Open311 service discovery (where GeoReport v2 lives)")
async def discovery(request: Request, fmt: str) -> Response:
    def run():
        doc = {"changeset": "2026-11-28T00:00:00Z", "contact": "the city's GridSight operators",
               "key_service": "ask an administrator for an API key (gridsight api create-key)",
               "endpoints": [{"specification": SPEC, "url": _base(request) + BASE, "changeset": "2026-11-28T00:00:00Z",
                              "type": "production", "formats": ["application/json", "text/xml"]}]}
        return respond(doc, fmt, "discovery")

    return await _guard(fmt, run)


@router.get(BASE + "/services.{fmt}", response_model=list[Service], responses=documented(),
            summary="Open311 service list: one service per issue type (json or xml)")
async def services(request: Request, fmt: str) -> Response:
    rules = request.app.state.gs.rules
    return await _guard(fmt, lambda: respond(_services(rules), fmt, "services"))


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

    return await _guard(fmt, run)


@router.get(BASE + "/requests.{fmt}", response_model=list[ServiceRequest], responses=documented(),
            summary="Open311 service requests (tickets; json or xml)")
async def list_requests(request: Request, fmt: str, api_key: str | None = None, service_request_id: str | None = None,
                        service_code: str | None = None, start_date: str | None = None,
                        end_date: str | None = None, status: str | None = None,
                        page_size: int = 100, page: int = 1, jurisdiction_id: str | None = None):
    gs = request.app.state.gs

    def run():
        principal = authenticate(request, api_key)
        if not principal.may("tickets.read"):
            raise Open311Error(403, f"role {principal.role} may not read service requests")
        if not 1 <= page_size <= MAX_PAGE or page < 1:
            raise Open311Error(400, f"page_size must be 1..{MAX_PAGE} and page at least 1")
        with gs.sessions() as session:
            if service_request_id:
                tickets = []
                for ref in [r for r in service_request_id.split(",") if r.strip()][:MAX_PAGE]:
                    try:
                        t = find_ticket(session, ref)
                        check_scope(principal, t)
                    except ServiceError:
                        continue
                    tickets.append(t)
                return respond(render(session, tickets, _base(request)), fmt, "service_requests")
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
                f.status = [*(OPEN_STATUSES if "open" in wanted else ()),
                            *(CLOSED_STATUSES if "closed" in wanted else ())]
            f.created_from, f.created_to = parse_time(start_date, "start_date"), parse_time(end_date, "end_date")
            if f.created_from and f.created_to and f.created_to <= f.created_from:
                raise Open311Error(400, "end_date must be after start_date")
            if not f.created_from and not f.created_to:
                f.created_from = gs.clock.now() - DEFAULT_WINDOW
            stmt = (filter_tickets(select(Ticket), f, principal)
                    .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                    .limit(page_size).offset((page - 1) * page_size))
            return respond(render(session, list(session.scalars(stmt)), _base(request)), fmt, "service_requests")

    return await _guard(fmt, run)


@router.get(BASE + "/requests/{service_request_id}.{fmt}", response_model=list[ServiceRequest],
            responses=documented(), summary="One Open311 service request (json or xml)")
async def get_request(request: Request, service_request_id: str, fmt: str, api_key: str | None = None,
                      jurisdiction_id: str | None = None):
    gs = request.app.state.gs

    def run():
        principal = authenticate(request, api_key)
        if not principal.may("tickets.read"):
            raise Open311Error(403, f"role {principal.role} may not read service requests")
        with gs.sessions() as session:
            t = find_ticket(session, service_request_id)
            check_scope(principal, t)
            return respond(render(session, [t], _base(request)), fmt, "service_requests")

    return await _guard(fmt, run)


@router.post(BASE + "/requests.{fmt}", summary="File an Open311 service request (form-encoded; json or xml answer)",
             status_code=201, response_model=list[RequestFiled], responses=documented(201), openapi_extra=REQUEST_FORM)
async def create_request(request: Request, fmt: str) -> Response:
    gs = request.app.state.gs
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}

    def run():
        principal = authenticate(request, fields.get("api_key"))
        if not (principal.may("detect") or principal.may("incidents.write")):
            raise Open311Error(403, f"role {principal.role} may not file service requests")
        code = fields.get("service_code", "").strip()
        if not code:
            raise Open311Error(400, "service_code is required; see services.json")
        if code not in gs.rules.issue_types:
            raise Open311Error(400, f"unknown service_code {code!r}; see services.json")
        location = _location(fields)
        description = fields.get("description", "").strip()[:4000] or None
        try:
            inc = IncidentIn(key=f"open311:{uuid.uuid4()}", seq=1, event="open", issue_type=code,
                             source="upload", location=location)
        except ValidationError as e:
            raise Open311Error(400, "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}"
                                              for x in e.errors(include_url=False))) from None
        now = gs.clock.now()
        with gs.sessions() as session:
            result = ingest_incident(session, inc, principal, now, gs.rules, gs.grids)
            media = fields.get("media_url", "").strip()[:1000] or None
            session.add(TicketEvent(ticket_id=result.ticket_id, at=now, actor=principal.username,
                                    action=REPORT_ACTION, from_status=None, to_status=None, note=description,
                                    data={"media_url": media} if media else None))
            commit(session)
        return respond([{"service_request_id": result.number, "service_notice": "", "account_id": None}],
                       fmt, "service_requests", 201)

    return await _guard(fmt, run)


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
