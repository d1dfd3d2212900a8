"""A real RTSP camera on loopback for the live-source tests: GStreamer's RTSP server streaming
H.264 (x264, as CCTV cameras send it) over RTP.

Run with Debian's Python, which has the GObject bindings (packages gir1.2-gst-rtsp-server-1.0,
python3-gi, gstreamer1.0-plugins-good and -ugly; scripts/setup.sh installs them):

    /usr/bin/python3 tests/pipeline/rtsp_server.py PORT

serves ``rtsp://127.0.0.1:PORT/cam``, a moving test pattern at 15 frames/s, 320x240, and prints
``ready`` once it listens. Killing the process is the camera going down.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = ("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
            "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 "
            "! rtph264pay name=pay0 pt=96 config-interval=1 )")


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{sys.argv[1]}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
