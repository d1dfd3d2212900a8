"""Where the repository and its read-only neighbours live."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS_DIR = REPO_ROOT / "configs"
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DEFAULT_HOME = REPO_ROOT / "var"
DEFAULT_MANIFEST = REPO_ROOT / "datasets" / "gridsight-issues.yaml"  # the default model's classes and sources
