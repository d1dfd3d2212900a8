"""Third-party GeoReport v2 clients from PyPI (pinned in requirements.lock), as their users run them.

* ``georeport`` 0.3.1: Python 3; lists services, requests, one request (JSON or XML). It sends
  no key on reads and has no POST.
* ``three`` 0.8.0: Python 2 code. The shim below is all it needs on Python 3 for discovery,
  services, requests and POST with a ``media`` photo: ``itertools.ifilter`` (gone in Python 3)
  and its XML parser ``relaxml`` (calls ``Element.getchildren``, gone in 3.9; replaced by
  ``xmltodict``, which parses the same elements into the same dicts).
"""

from __future__ import annotations

import itertools

import xmltodict

if not hasattr(itertools, "ifilter"):
    itertools.ifilter = filter  # three.core imports it

from georeport import GeoReport  # noqa: E402
from three import Three as _Three  # noqa: E402


class Three(_Three):
    def convert(self, content, conversion):
        if conversion and self.format == "xml":
            doc = xmltodict.parse(content)
            return doc[next(iter(doc))]
        return super().convert(content, conversion)


__all__ = ["GeoReport", "Three"]
