"""Detector runtime, model registry, training, evaluation and export.

Importing ``models`` configures the process offline first (see ``gridsight.offline``).
"""

import gridsight  # noqa: F401  (offline before ultralytics)
