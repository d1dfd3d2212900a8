"""Answers of the service's own endpoints: health, readiness, sign-in."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Worker(BaseModel):
    id: str
    device: str | None = None
    concurrency: int | None = None
    segments: int | None = None
    frames: int | None = None
    cameras: list[str] | None = Field(None, description="live cameras it holds")


class JobCluster(BaseModel):
    queue: str = Field(description="ok, or why the queue (Redis) is unreachable")
    queue_depth: int | None = None
    unacked: int | None = None
    workers: list[Worker] | None = None


class Readiness(BaseModel):
    status: str = Field(description="ok, or unavailable (answered with 503)")
    checks: dict[str, str] = Field(examples=[{"database": "ok", "object_store": "ok"}])
    jobs: JobCluster = Field(description="the archive-job cluster (informational)")


class Token(BaseModel):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="seconds")


class Me(BaseModel):
    user_id: int
    username: str
    role: str
    department_id: str | None
    grid_id: str | None
