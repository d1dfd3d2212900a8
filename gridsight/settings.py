"""One settings class for the whole system (env prefix ``GRIDSIGHT_``).

Every knob has an embedded default so ``make run`` works on a fresh machine;
deployments override with environment variables or a ``.env`` file, e.g.
``GRIDSIGHT_DATABASE_URL=postgresql+psycopg://...``.
"""

from __future__ import annotations

import os

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridsight.paths import CONFIGS_DIR, DEFAULT_DATA_DIR, DEFAULT_HOME


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDSIGHT_", env_file=".env", extra="ignore")

    # --- places -------------------------------------------------------------
    home: Path = Field(DEFAULT_HOME, description="Runtime state: caches, exports, outbox, local DB and evidence.")
    data: Path = Field(DEFAULT_DATA_DIR, description="Read-only datasets and base weights (../shared/data).")
    configs: Path = Field(CONFIGS_DIR, description="YAML configuration folder.")

    # --- logging ------------------------------------------------------------
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "text"

    # --- detection ----------------------------------------------------------
    model: str = Field("default", description="Registry name in configs/models.yaml.")
    backend: str = Field("auto", description="auto, or a backend of the table in models/backends/__init__.py.")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    imgsz: int = 640
    conf: float = 0.25
    iou: float = 0.7
    batch: int = 4
    precision_calibration: bool = Field(True, description="`auto` precision times each candidate (fp32, int8) for "
                                                          "a second or two at a model's first load here and keeps "
                                                          "the faster (cached); off: chosen by CPU flags.")

    # --- ticket API ---------------------------------------------------------
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite at HOME/gridsight.db.")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = Field("http://127.0.0.1:8000", description="Where the pipeline posts incidents.")
    api_key: str = Field("", description="The pipeline's ingest key for the ticket API.")
    api_threads: int = Field(default_factory=lambda: min(16, max(4, 2 * (os.cpu_count() or 1))), ge=1, le=256,
                             description="Requests one API process works on at once (its thread pool; each database "
                                         "pool holds as many connections); more wait in the event loop. Default: "
                                         "twice the CPU count, 4 to 16.")
    secret_key: str = Field("", description="Signs evidence links (>= 32 random characters; the same on every API "
                                            "host). Empty: a random key kept in HOME/secret_key (mode 0600).")
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_max_pixels: int = Field(50_000_000, description="Pixels of one uploaded picture (its header says).")
    upload_max_request_pixels: int = Field(400_000_000, description="Pixels of all pictures of one request.")
    decode_budget_pixels: int = Field(100_000_000, description="Pixels one API process decodes at once (about 3 "
                                                               "bytes each); more uploads wait.")
    decode_wait_s: float = Field(30.0, description="How long an upload waits for the decode budget (then 429).")
    decode_max_side: int = Field(1920, ge=640, description="Uploads are decoded at most this long on their long side "
                                                           "(the detector sees 640).")
    login_limits_user: str = Field("5/minute;20/hour;100/day", description="Failed logins per username (each "
                                                                         "tier a longer back-off; `limits` syntax).")
    login_limits_client: str = Field("30/minute;300/hour", description="Login attempts per client address.")
    login_limits_storage: str = Field("memory://", description="Where login counts live: memory:// (per process) "
                                                              "or redis://host:port/db (shared by all API hosts).")
    login_threads: int = Field(1, ge=1, le=16, description="Threads that hash passwords (Argon2); the request "
                                                          "threads never do.")
    login_queue: int = Field(4, ge=0, le=1000, description="Logins that may wait for those threads (more: 429).")
    handler_may_verify: bool = Field(False, description="Let a handler verify its own department's resolution "
                                                        "with an after photo (separation of duties: off).")
    mute_hours: float = Field(24.0, description="A rejected false positive's camera, zone and type stay muted "
                                                "this long.")
    verify_window_s: float = Field(60.0, description="Seconds of footage the pipeline re-watches a resolved "
                                                     "ticket's camera and zone.")

    # --- Open311 GeoReport v2 (api/routers/open311.py; docs/api-interop.md) -----
    open311_public_reads: bool = Field(True, description="Anyone may read service requests without a key (public "
                                                         "fields only, public media); off: reads need a reader key.")
    open311_public_issue_types: list[str] = Field(default_factory=list, description="Issue types public reads show; "
                                                                                    "empty: every type.")
    open311_public_sources: list[Literal["camera", "upload", "batch"]] = Field(
        default_factory=lambda: ["camera", "upload", "batch"],
        description="Ticket sources public reads show (camera, upload: citizens' reports and uploads, batch).")
    open311_public_description: bool = Field(False, description="Show the reporter's own description text in "
                                                                "public reads (off: it stays private, like their "
                                                                "name and contact).")
    open311_media_max_px: int = Field(1024, ge=64, le=4096, description="Longest side of the public media image.")

    # --- evidence and privacy ------------------------------------------------
    privacy_conf: float = Field(0.2, ge=0.01, le=1.0, description="People found at this score or more are blurred "
                                "in every stored image (lower than any rule's threshold).")
    privacy_window_s: float = Field(1.0, ge=0.0, description="Camera path: people seen this many footage seconds "
                                    "around the evidence frame are blurred too.")
    keep_upload_originals: bool = Field(False, description="Also keep an upload's unblurred original (evidence kind "
                                        "`original`, readable only by roles with `evidence.original`).")

    # --- evidence store -----------------------------------------------------
    s3_endpoint: str = Field("", description="host:port of an S3 server; empty means a local folder.")
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "gridsight-evidence"
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    # --- push and brokers ---------------------------------------------------
    mqtt_host: str = ""
    mqtt_port: int = 1883
    redis_url: str = "redis://127.0.0.1:6379/0"
    webhook_allow: list[str] = Field(default_factory=list,
                                     description="Internal hosts or networks webhooks may reach (JSON list, e.g. "
                                                 "[\"10.1.2.3\", \"192.168.0.0/16\"]); all others must be public.")

    # --- distributed jobs (pipeline/distributed) -----------------------------
    jobs_allowed_roots: list[Path] = Field(default_factory=list,
                                           description="Server folders POST /api/v1/jobs may read footage from.")
    jobs_visibility_timeout_s: int = Field(3600, description="Redelivery delay of a killed worker's segment.")
    jobs_segment_s: float = Field(1800.0, description="Target segment length of archived footage (seconds).")
    jobs_warmup_s: float = Field(130.0, description="Warm-up before each segment (>= longest persistence + dwell).")

    # --- operator-facing language -------------------------------------------
    language: Literal["en", "zh", "en+zh"] = "en+zh"
    map_tiles: str = Field("", description="The review console's map: the city's own tile server, a URL template "
                                           "with {z}, {x}, {y} (e.g. http://tiles.city.local/{z}/{x}/{y}.png); "
                                           "empty: grids and points drawn offline, no tiles.")

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'gridsight.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
