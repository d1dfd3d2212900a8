"""A real MJPEG-over-HTTP camera on loopback (multipart/x-mixed-replace), which can go down and
come back, for the live-source tests."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from tests.services import free_port


class MJPEGCamera:
    def __init__(self, fps: float = 20.0, size: tuple[int, int] = (320, 240)) -> None:
        self.fps, self.size = fps, size
        self.frames_sent = 0
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._alive = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def frame(self, i: int) -> bytes:
        w, h = self.size
        img = np.full((h, w, 3), 40, np.uint8)
        x = (i * 7) % (w - 40)
        cv2.rectangle(img, (x, 100), (x + 40, 140), (0, 200, 255), -1)
        cv2.putText(img, str(i), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        return cv2.imencode(".jpg", img)[1].tobytes()

    def start(self) -> "MJPEGCamera":
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while cam._alive.is_set():
                        jpg = cam.frame(cam.frames_sent)
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         + f"Content-Length: {len(jpg)}\r\n\r\n".encode() + jpg + b"\r\n")
                        cam.frames_sent += 1
                        time.sleep(1 / cam.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._alive.set()
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """The camera drops off the network: open streams end, new connections are refused."""
        self._alive.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
