"""The workers' Celery application: :func:`gridsight.queue.celery_app` with this package's tasks."""

from __future__ import annotations

from gridsight.queue import celery_app

app = celery_app(include=("pipeline.distributed.tasks",))
