"""Network guard, loaded as ``sitecustomize`` (PYTHONPATH) into a test subprocess and its children.

An audit hook sees every socket connect / sendto / sendmsg / DNS lookup in Python code. Any
address other than loopback is refused (the call raises) and recorded as one JSON line in
$GRIDSIGHT_GUARD_LOG, so a library that swallows the exception is still caught by the test.
"""

import ipaddress
import json
import os
import sys

LOG = os.environ.get("GRIDSIGHT_GUARD_LOG")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


class NetworkGuardViolation(RuntimeError):
    pass


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _host_of(address):
    if isinstance(address, tuple) and address:
        return address[0]
    if isinstance(address, (str, bytes)):  # AF_UNIX path: local by definition
        return "localhost"
    return address


def _hook(event, args):
    if not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        host = _host_of(args[1])
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                   "socket.gethostbyname_ex", "socket.getnameinfo"):
        host = args[0][0] if event == "socket.getnameinfo" else args[0]
    else:
        return
    if _is_loopback(host):
        return
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps({"event": event, "host": str(host), "pid": os.getpid()}) + "\n")
    raise NetworkGuardViolation(f"network access to {host!r} ({event}) blocked by the offline test guard")


sys.addaudithook(_hook)
