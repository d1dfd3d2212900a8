"""Detector runtime, model registry, training, evaluation and export.

Importing ``models`` configures the process offline first (see ``gridsight.offline``).
"""

import os

import gridsight  # noqa: F401  (offline before ultralytics)

# OpenMP threads that sleep when idle instead of spinning: on a busy 2-core machine (decoding, the API,
# another model) spinning threads made torch CPU inference several times slower. Takes effect when
# torch is first imported after this, as it is in every GridSight entry point.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
