"""The Swift test service itself: a server that cannot start says why, with its logs."""

from __future__ import annotations

import shutil
import socket

import pytest

import tests.services.swift as swift


@pytest.mark.skipif(not shutil.which("swift-proxy-server"), reason="Swift not installed")
def test_a_proxy_that_cannot_bind_fails_with_its_log(monkeypatch, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([swift.free_port() for _ in range(4)] + [taken.getsockname()[1]])
    monkeypatch.setattr(swift, "free_port", lambda: next(ports))  # memcached, account, container, object, proxy
    server = swift.SwiftServer(tmp_path / "swift")
    (tmp_path / "swift").mkdir()
    try:
        with pytest.raises(swift.ServiceStartError) as e:
            server.start()
        text = str(e.value)
        assert "proxy" in text and "--- proxy.log" in text
        assert "exited" in text and "Could not bind" in text  # the server's own words, from its log
        assert all(p.poll() is not None for p in server.procs.values())  # nothing left running
    finally:
        taken.close()
        server.stop()
