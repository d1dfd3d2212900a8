"""Shared test fixtures. Real-data tests read GRIDSIGHT_DATA (default ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import gridsight  # noqa: F401  (offline configuration before anything imports ultralytics)
from gridsight.paths import DEFAULT_DATA_DIR


def data_dir() -> Path:
    return Path(os.environ.get("GRIDSIGHT_DATA") or DEFAULT_DATA_DIR)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets; tests that need them skip with a clear reason when absent."""
    d = data_dir()
    if not (d / "README.md").is_file():
        pytest.skip(f"real data not found at {d} (set GRIDSIGHT_DATA to the shared data folder)")
    return d


pytest_plugins = ["tests.services.swift"]  # real S3 (Swift s3api) fixtures: s3_server, s3_bucket
