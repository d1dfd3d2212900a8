"""``GET /metrics``: Prometheus metrics of the ticket service (text exposition format).

* ``gridsight_http_requests_total{method,route,status}`` and
  ``gridsight_http_request_duration_seconds{method,route}``: every request, labelled by the
  route template (``/api/v1/tickets/{ticket_ref}``), never by the raw path.
* ``gridsight_tickets{status}``, ``gridsight_tickets_overdue``: read from the database at scrape.
* ``gridsight_push_deliveries{state}``: the push outbox (pending, delivered, failed).
* ``gridsight_jobs_queue_depth``, ``gridsight_jobs_unacked``, ``gridsight_workers``, ``gridsight_jobs{status}``,
  ``gridsight_worker_segments_total{worker}``, ``gridsight_worker_frames_total{worker}``,
  ``gridsight_worker_cameras{worker}``: the archive-job cluster (docs/distributed.md), when Redis answers.
* The process and Python collectors of ``prometheus_client``.

The request metrics come from a small ASGI wrapper this router's lifespan puts around the app
(so no other module needs to know about metrics).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from api.db.models import STATUSES, Ticket

REQUESTS = Counter("gridsight_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("gridsight_http_request_duration_seconds", "HTTP request handling time", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class RequestMetrics:
    """ASGI wrapper counting and timing HTTP requests by route template."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            REQUESTS.labels(method, template, str(status["code"])).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - started)


async def lifespan(app):
    """Wrap the app's (already built) middleware stack once it starts."""
    stack = getattr(app, "middleware_stack", None)
    if stack is not None and not isinstance(stack, RequestMetrics):
        app.middleware_stack = RequestMetrics(stack)
    yield


router = APIRouter(tags=["health"], lifespan=lifespan)


class ServiceCollector:
    """Gauges read at scrape time from the ticket database and the push outbox."""

    def __init__(self, gs):
        self.gs = gs

    def collect(self):
        tickets = GaugeMetricFamily("gridsight_tickets", "Tickets by status", labels=["status"])
        overdue = GaugeMetricFamily("gridsight_tickets_overdue", "Open tickets past their SLA due time")
        with self.gs.sessions() as session:
            counts = dict(session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
            late = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.overdue.is_(True)))
        for status in STATUSES:
            tickets.add_metric([status], counts.get(status, 0))
        overdue.add_metric([], late or 0)
        yield tickets
        yield overdue
        from api import push

        notifier = push._notifier  # only report an outbox this process already uses
        if notifier is not None:
            deliveries = GaugeMetricFamily("gridsight_push_deliveries",
                                           "Push deliveries by state (all API hosts: read from the database)",
                                           labels=["state"])
            states = {"pending": 0, "delivered": 0, "failed": 0, **notifier.outbox.counts()}
            for state, n in states.items():
                deliveries.add_metric([state], n)
            yield deliveries
        yield from _job_cluster()


def _job_cluster():
    """Archive-job queue and worker metrics (gridsight.queue), when Redis answers."""
    try:
        from gridsight.jobs import connect
        from gridsight.queue import metric_families

        return metric_families(connect())
    except Exception:  # no Redis (embedded set-up): no job metrics, the rest still scrapes
        return []


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request) -> Response:
    def render() -> bytes:
        service = CollectorRegistry(auto_describe=False)
        service.register(ServiceCollector(request.app.state.gs))
        return generate_latest(REGISTRY) + generate_latest(service)

    return Response(await run_in_threadpool(render), media_type=CONTENT_TYPE_LATEST)
