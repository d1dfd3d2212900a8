"""The Celery application: Redis broker from ``settings.redis_url``, at-least-once delivery.

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a segment's message is acknowledged only
  after the segment's result is stored, so a worker killed mid-segment (even by SIGKILL) leaves
  the message unacknowledged and the broker hands it to another worker;
* ``worker_prefetch_multiplier=1``: a worker reserves one segment per process, never a backlog
  that would wait behind a long segment (or be lost with it);
* ``visibility_timeout`` (``settings.jobs_visibility_timeout_s``): how long an unacknowledged
  message waits before the Redis transport redelivers it. It must be longer than the slowest
  segment (a segment still running when it expires runs twice: harmless, results are
  idempotent, but wasted work). ``unacked_restore_interval`` sweeps for such messages.

No result backend: job state lives in :mod:`pipeline.distributed.jobs` keys.
"""

from __future__ import annotations

from celery import Celery

QUEUE = "gridsight"


def make_app(redis_url: str | None = None, visibility_timeout_s: int | None = None) -> Celery:
    from gridsight.settings import get_settings

    s = get_settings()
    url = redis_url or s.redis_url
    vt = int(visibility_timeout_s or s.jobs_visibility_timeout_s)
    app = Celery("gridsight", broker=url, include=["pipeline.distributed.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": vt,
            "unacked_restore_interval": max(1, min(10, vt // 4)),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


app = make_app()
