"""One module per runtime; each subclasses :class:`models.detector.Detector` and imports its
runtime library only when loaded."""
