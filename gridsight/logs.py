"""Structured logging: ``key=value`` text for people, one JSON object per line for machines.

>>> from gridsight.logs import setup_logging, get_logger
>>> setup_logging("INFO", "json")
>>> get_logger("demo").info("frame", extra={"camera": "cam-1", "fps": 9.8})  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import sys
import time

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
SECRET_KEYS = ("password", "secret", "token", "stream_url", "api_key", "authorization")


def _fields(record: logging.LogRecord) -> dict:
    out = {}
    for k, v in vars(record).items():
        if k in _RESERVED or k.startswith("_"):
            continue
        out[k] = "***" if any(s in k.lower() for s in SECRET_KEYS) else v
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extra:
            line += f"  {extra}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # ultralytics logs through its own logger; keep it quiet unless asked.
    logging.getLogger("ultralytics").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"gridsight.{name}")
