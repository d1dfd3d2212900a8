"""Offline by construction.

GridSight never downloads anything at run time: no weights, fonts, assets, pip
updates, hub calls or settings sync from Ultralytics, and no OpenVINO telemetry.
:func:`configure_offline` runs on ``import gridsight`` (before ultralytics is
imported anywhere) and:

* sets ``YOLO_OFFLINE=1`` so ultralytics' ``is_online()`` is False, and
  ``YOLO_AUTOINSTALL=False`` so it never pip-installs a missing requirement,
* points ``YOLO_CONFIG_DIR`` at a GridSight-owned directory holding a
  ``settings.json`` with ``sync`` and every integration off, and the fonts
  ultralytics would otherwise download (``Arial.ttf``, ``Arial.Unicode.ttf``),
  linked from local system fonts (DejaVu for Latin, WenQuanYi for Chinese),
* writes OpenVINO's documented opt-out (``~/intel/openvino_telemetry`` = ``0``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gridsight.paths import DEFAULT_HOME

# Local fonts, in order of preference, standing in for the fonts ultralytics downloads.
LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

ULTRALYTICS_SETTINGS = {
    "sync": False,
    "api_key": "",
    "clearml": False,
    "comet": False,
    "dvc": False,
    "mlflow": False,
    "raytune": False,
    "tensorboard": False,
    "wandb": False,
    "vscode_msg": False,
    "openvino_msg": False,
}

_done = False


def first_existing(candidates: tuple[str, ...]) -> Path | None:
    for c in candidates:
        if Path(c).is_file():
            return Path(c)
    return None


def ultralytics_config_dir() -> Path:
    home = Path(os.environ.get("GRIDSIGHT_HOME") or DEFAULT_HOME)
    return home / "ultralytics"


def _write_settings(cfg: Path) -> None:
    settings_file = cfg / "settings.json"
    current: dict = {}
    if settings_file.exists():
        try:
            current = json.loads(settings_file.read_text())
        except (ValueError, OSError):
            current = {}
    wanted = {**current, **ULTRALYTICS_SETTINGS}
    home = cfg.parent.parent
    wanted.setdefault("runs_dir", str(home / "runs"))
    wanted.setdefault("datasets_dir", str(home / "datasets"))
    wanted.setdefault("weights_dir", str(home / "weights"))
    if wanted != current:
        settings_file.write_text(json.dumps(wanted, indent=2))


def _link_fonts(cfg: Path) -> None:
    for name, candidates in (("Arial.ttf", LATIN_FONTS), ("Arial.Unicode.ttf", CJK_FONTS)):
        target = cfg / name
        if target.exists():
            continue
        src = first_existing(candidates)
        if src is not None:
            try:
                target.symlink_to(src)
            except FileExistsError:
                pass


def _openvino_opt_out() -> None:
    try:
        consent = Path.home() / "intel" / "openvino_telemetry"
        if consent.exists() and consent.read_text().strip() == "0":
            return
        consent.parent.mkdir(parents=True, exist_ok=True)
        consent.write_text("0")
    except OSError:
        pass  # unwritable home: openvino_telemetry then declines by itself (no consent file, no tty)


def configure_offline() -> None:
    """Make every model library in this process work without a network. Idempotent."""
    global _done
    if _done:
        return
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ["YOLO_AUTOINSTALL"] = "False"  # never pip-install at run time
    os.environ["ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS"] = "1"
    root = Path(os.environ.get("YOLO_CONFIG_DIR") or ultralytics_config_dir())
    os.environ["YOLO_CONFIG_DIR"] = str(root)
    cfg = root / "Ultralytics"  # ultralytics appends this to YOLO_CONFIG_DIR
    cfg.mkdir(parents=True, exist_ok=True)
    _write_settings(cfg)
    _link_fonts(cfg)
    _openvino_opt_out()
    # matplotlib (used by ultralytics plots) must not try to build caches in odd places.
    os.environ.setdefault("MPLCONFIGDIR", str(cfg / "matplotlib"))
    _done = True
