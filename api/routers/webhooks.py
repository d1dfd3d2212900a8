"""Webhook subscriptions and the push delivery log (admin): ``/api/v1/webhooks``.

Subscribers get every ticket event (or the ones named in ``events``) as a JSON POST signed
with their secret (``X-GridSight-Signature: sha256=<hex>``); see docs/api-interop.md. The
router's lifespan runs the push notifier with the app's settings while the app runs.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import push
from api.auth import Principal, require
from api.schemas import examples
from gridsight.fields import Id

log = logging.getLogger("gridsight.push")


async def lifespan(app):
    """Push with the app's own settings (the outbox in its ticket database, its MQTT broker)
    while the app runs, unless a notifier was installed already; stopped when the app stops.
    The notifier has a small connection pool of its own (:class:`api.push.outbox.Outbox` on the
    database URL), so delivery never takes a connection that a request is waiting for."""
    mine = None
    gs = getattr(app.state, "gs", None)
    if gs is not None and push._notifier is None:
        settings = gs.settings
        mine = push.Notifier(settings.sqlalchemy_url, settings.mqtt_host, settings.mqtt_port,
                             webhook_allow=settings.webhook_allow)
        try:  # this host's outbox file of a version before migration 0004, if any
            mine.outbox.import_file(settings.home / "push.db")
        except Exception:  # nothing was written; the file stays for the next start
            log.exception("could not move %s into the ticket database", settings.home / "push.db")
        mine.start()
        push.set_notifier(mine)
    try:
        yield
    finally:
        if mine is not None:
            if push._notifier is mine:
                push.set_notifier(None)
            mine.close()


router = APIRouter(prefix="/api/v1/webhooks", tags=["admin"], lifespan=lifespan)


class SubscriptionIn(BaseModel):
    model_config = examples({"url": "https://ops.example.org/gridsight", "secret": "a-long-shared-secret-for-hmac",
                             "events": ["created", "status"]})

    url: str = Field(max_length=2000, pattern=r"^https?://[^\s/]+", examples=["https://ops.example.org/gridsight"])
    secret: str = Field(min_length=16, max_length=200, description="signs the bodies (HMAC-SHA256); never shown again")
    events: list[str] = Field(default_factory=list, max_length=20,
                              description="event names (created, updated, status, escalated, feedback); empty: all")


class SubscriptionOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event: str
    number: str
    topic: str
    target: str
    subscription_id: int | None
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None


def _out(sub) -> dict:
    return {"id": sub.id, "url": sub.url, "events": list(sub.events), "active": sub.active}


@router.get("", response_model=list[SubscriptionOut], summary="Webhook subscriptions (never their secrets)")
async def list_subscriptions(principal: Principal = require("admin")) -> list[dict]:
    return [_out(s) for s in await run_in_threadpool(push.get_notifier().subscriptions)]


@router.post("", response_model=SubscriptionOut, status_code=201, summary="Subscribe a URL to ticket events")
async def add_subscription(body: SubscriptionIn, principal: Principal = require("admin")) -> dict:
    try:
        sub = await run_in_threadpool(push.get_notifier().add_subscription, body.url, body.secret, tuple(body.events))
    except ValueError as e:
        raise HTTPException(422, [{"loc": ["body"], "msg": str(e), "type": "value_error"}]) from None
    return _out(sub)


@router.delete("/{subscription_id}", status_code=204, summary="Unsubscribe (pending deliveries to it are dropped)")
async def remove_subscription(subscription_id: Id, principal: Principal = require("admin")) -> Response:
    if not await run_in_threadpool(push.get_notifier().remove_subscription, subscription_id):
        raise HTTPException(404, f"no active webhook subscription {subscription_id}")
    return Response(status_code=204)


@router.get("/deliveries", response_model=list[DeliveryOut], summary="The push delivery log, newest first")
async def deliveries(limit: int = Query(100, ge=1, le=1000),
                     state: Literal["pending", "delivered", "failed"] | None = None,
                     principal: Principal = require("admin")) -> list[dict]:
    return await run_in_threadpool(push.get_notifier().log, limit, None, state)
