"""GridSight: find city problems on camera and get them fixed.

Importing this package makes the process offline by construction (see
:mod:`gridsight.offline`) before any model library is imported.
"""

from gridsight.offline import configure_offline

configure_offline()

__version__ = "0.1.0"
