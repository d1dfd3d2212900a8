"""Read a YAML configuration file; a missing or broken file is a one-line UserError."""

from __future__ import annotations

from pathlib import Path

import yaml

from gridsight.errors import UserError


def read_yaml(path: Path, what: str) -> dict:
    """The document at ``path`` (``{}`` when empty); ``what`` names the file in error messages."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (FileNotFoundError, IsADirectoryError):
        raise UserError(f"{what} not found: {path}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{what} {path} is not valid YAML: {exc}") from None
