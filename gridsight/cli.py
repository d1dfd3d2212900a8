"""The ``gridsight`` command. Each area registers its own subcommands.

Subcommand modules (``models.cli``, ``models.train_cli``, ``pipeline.cli``, ``api.cli``) expose
``register(subparsers)``; they import heavy libraries only inside the handler
so ``gridsight --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import gridsight  # noqa: F401  (offline configuration first)
from gridsight.errors import UserError
from gridsight.logs import setup_logging
from gridsight.settings import get_settings

AREAS = ("models.cli", "models.train_cli", "pipeline.cli", "pipeline.distributed.cli", "api.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridsight", description="Find city problems on camera and get them fixed.")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default from GRIDSIGHT_LOG_LEVEL)")
    parser.add_argument("--log-json", action="store_true", help="one JSON object per log line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    setup_logging(args.log_level or settings.log_level, "json" if args.log_json else settings.log_format)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"gridsight {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gridsight {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last line of defence: one line, details only at DEBUG
        logging.getLogger("gridsight").debug("unexpected error", exc_info=True)
        print(f"gridsight {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(run with --log-level DEBUG for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
