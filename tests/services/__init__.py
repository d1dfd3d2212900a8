"""Test services started by fixtures: a real S3 server (OpenStack Swift s3api) on loopback, and
:func:`free_port` for every server a test starts on loopback."""

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
