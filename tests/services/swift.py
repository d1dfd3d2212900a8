"""A real S3 server for the tests: OpenStack Swift with the s3api and tempauth middlewares.

Everything lives in a temporary folder: configuration, one-replica rings built with
``swift-ring-builder``, the object/container/account "devices" (``mount_check = false``), and
the servers' logs. The rings are made with swift-ring-builder's RingBuilder. memcached, the account, container, object and proxy servers are started as
subprocesses bound to 127.0.0.1 on free ports, and stopped afterwards. Clients talk S3 with
AWS signature V4 (the ``minio`` client does by default).

Fixtures (registered for the whole suite by ``tests/conftest.py``):

* ``s3_server`` (session): an :class:`S3Server` with ``endpoint`` (``127.0.0.1:port``),
  ``access_key``, ``secret_key``, ``region``; ``url`` is ``http://endpoint``.
* ``s3_bucket`` (function): a fresh, not yet created, bucket name.

Run it by hand for manual tests: ``.venv/bin/python -m tests.services.swift`` prints the
``GRIDSIGHT_S3_*`` variables to export and serves until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import free_port

START_TIMEOUT_S = 30.0
SWIFT_BINARIES = ("swift-ring-builder", "swift-proxy-server", "swift-object-server",
                  "swift-container-server", "swift-account-server", "memcached")


class ServiceStartError(RuntimeError):
    """A test service did not come up; the message carries its logs."""


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # "127.0.0.1:port", as the minio client and GRIDSIGHT_S3_ENDPOINT want it
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def env(self, bucket: str = "gridsight-evidence") -> dict[str, str]:
        """The settings environment that points GridSight at this server."""
        return {"GRIDSIGHT_S3_ENDPOINT": self.endpoint, "GRIDSIGHT_S3_ACCESS_KEY": self.access_key,
                "GRIDSIGHT_S3_SECRET_KEY": self.secret_key, "GRIDSIGHT_S3_BUCKET": bucket,
                "GRIDSIGHT_S3_REGION": self.region, "GRIDSIGHT_S3_SECURE": "false"}


def _backend_conf(kind: str, folder: Path, port: int) -> str:
    return f"""[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
bind_timeout = 3
workers = 0
swift_dir = {folder}
devices = {folder / 'srv'}
mount_check = false
disable_fallocate = true
log_name = {kind}-server
log_level = INFO

[pipeline:main]
pipeline = healthcheck {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}

[filter:healthcheck]
use = egg:swift#healthcheck
"""


def _proxy_conf(folder: Path, port: int, memcache_port: int, account: str, user: str,
                secret: str, region: str) -> str:
    return f"""[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
bind_timeout = 3
workers = 0
swift_dir = {folder}
log_name = proxy-server
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
location = {region}
s3_acl = false
force_swift_request_proxy_log = false

[filter:tempauth]
use = egg:swift#tempauth
user_{account}_{user} = {secret} .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcache_port}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
"""


class SwiftServer:
    """Swift (proxy + account + container + object servers) and memcached in a temp folder."""

    def __init__(self, folder: str | os.PathLike | None = None, region: str = "us-east-1"):
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="gridsight-swift-"))
        self.region = region
        self.account, self.user = "gridsight", "tester"
        self.secret = secrets.token_hex(16)
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> S3Server:
        missing = [b for b in SWIFT_BINARIES if not shutil.which(b)]
        if missing:
            raise ServiceStartError(f"not installed: {', '.join(missing)} (run scripts/setup.sh: "
                                    "Debian packages swift, swift-proxy, swift-object, "
                                    "swift-container, swift-account, memcached)")
        try:
            self._configure()
            self._spawn("memcached", ["memcached", "-l", "127.0.0.1", "-p", str(self.ports["memcached"]),
                                      "-U", "0", "-m", "16", "-u", _memcached_user()])
            # Backend servers do not read rings: they boot while the rings are built.
            for kind in ("account", "container", "object"):
                self._spawn(kind, [f"swift-{kind}-server", str(self.folder / f"{kind}-server.conf"),
                                   "--verbose"])
            self._build_rings()
            self._spawn("proxy", ["swift-proxy-server", str(self.folder / "proxy-server.conf"),
                                  "--verbose"])
            self._wait_until_up()
        except ServiceStartError:
            self.stop()
            raise
        except Exception as e:
            logs = self.logs()
            self.stop()
            raise ServiceStartError(f"Swift did not start: {type(e).__name__}: {e}\n{logs}") from e
        except BaseException:
            self.stop()
            raise
        return S3Server(f"127.0.0.1:{self.ports['proxy']}", f"{self.account}:{self.user}",
                        self.secret, self.region)

    def stop(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        for f in getattr(self, "_log_files", {}).values():
            f.close()
        self.procs.clear()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------------
    def _configure(self) -> None:
        f = self.folder
        for name in ("memcached", "account", "container", "object", "proxy"):
            self.ports[name] = free_port()
        (f / "swift.conf").write_text(
            "[swift-hash]\n"
            f"swift_hash_path_suffix = {secrets.token_hex(8)}\n"
            f"swift_hash_path_prefix = {secrets.token_hex(8)}\n\n"
            "[storage-policy:0]\nname = Policy-0\ndefault = yes\n")
        (f / "srv" / "sdb1").mkdir(parents=True, exist_ok=True)
        (f / "logs").mkdir(exist_ok=True)
        for kind in ("account", "container", "object"):
            (f / f"{kind}-server.conf").write_text(_backend_conf(kind, f, self.ports[kind]))
        (f / "proxy-server.conf").write_text(_proxy_conf(
            f, self.ports["proxy"], self.ports["memcached"], self.account, self.user,
            self.secret, self.region))

    def _build_rings(self) -> None:
        """One-replica rings with one device each, made by swift-ring-builder's own RingBuilder.

        Driving the library in one process of Swift's interpreter takes ~0.7 s; the nine
        equivalent ``swift-ring-builder create/add/rebalance`` calls take ~6 s on 2 cores.
        """
        tool = shutil.which("swift-ring-builder")
        first = Path(tool).read_text(errors="replace").splitlines()[0]
        python = first[2:].strip().split()[0] if first.startswith("#!") else "python3"
        script = (
            "import sys\n"
            "from swift.common.ring import RingBuilder\n"
            "for spec in sys.argv[1:]:\n"
            "    kind, port = spec.split(':')\n"
            "    b = RingBuilder(6, 1, 1)\n"
            "    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port),\n"
            "               'device': 'sdb1', 'weight': 1})\n"
            "    b.rebalance()\n"
            "    b.save(kind + '.builder')\n"
            "    b.get_ring().save(kind + '.ring.gz')\n")
        kinds = ("account", "container", "object")
        r = subprocess.run([python, "-c", script, *(f"{k}:{self.ports[k]}" for k in kinds)],
                           cwd=self.folder, capture_output=True, text=True, timeout=60)
        missing = [k for k in kinds if not (self.folder / f"{k}.ring.gz").exists()]
        if r.returncode or missing:
            raise ServiceStartError(f"building the Swift rings failed ({r.returncode}; missing "
                                    f"{missing}):\n{r.stdout}\n{r.stderr}")

    def _spawn(self, name: str, argv: list[str]) -> None:
        if not hasattr(self, "_log_files"):
            self._log_files = {}
        log = open(self.folder / "logs" / f"{name}.log", "wb")
        self._log_files[name] = log
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        self.procs[name] = subprocess.Popen(argv, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                            preexec_fn=die_with_parent)

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        pending = {"memcached", "account", "container", "object", "proxy"}
        while pending:
            for name in list(pending):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise ServiceStartError(
                        f"Swift did not start: {name} exited with status {proc.returncode}\n"
                        f"{self.logs()}")
                if self._answers(name):
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise ServiceStartError(
                    f"Swift did not start within {START_TIMEOUT_S:.0f} s: "
                    f"{', '.join(sorted(pending))} not answering\n{self.logs()}")
            if pending:
                time.sleep(0.1)

    def _answers(self, name: str) -> bool:
        port = self.ports[name]
        if name == "memcached":
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def logs(self, tail: int = 40) -> str:
        """The last lines of every server's log (for failure messages)."""
        out = []
        for path in sorted((self.folder / "logs").glob("*.log")):
            try:
                lines = path.read_text(errors="replace").splitlines()[-tail:]
            except OSError:
                continue
            out.append(f"--- {path.name} (last {len(lines)} lines) ---\n" + "\n".join(lines))
        return "\n".join(out) or "(no server logs)"


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies, however it dies
    (Linux ``PR_SET_PDEATHSIG``), so a killed test run leaves no servers behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _memcached_user() -> str:
    """memcached refuses to run as root unless told which user to be."""
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture(scope="session")
def s3_server():
    """A running Swift with s3api on 127.0.0.1 (session-wide); skips if Swift is not installed."""
    missing = [b for b in SWIFT_BINARIES if not shutil.which(b)]
    if missing:
        pytest.skip(f"Swift not installed ({', '.join(missing)} missing; scripts/setup.sh installs it)")
    server, s3 = start_swift()
    try:
        yield s3
    finally:
        server.stop()


def start_swift(attempts: int = 3) -> tuple[SwiftServer, S3Server]:
    """Start a Swift; a free port taken by someone else before a server bound it is retried."""
    for attempt in range(attempts):
        server = SwiftServer()
        try:
            return server, server.start()
        except ServiceStartError as e:
            if "Could not bind" not in str(e) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def s3_bucket() -> str:
    """A bucket name nobody has used yet (the store creates it on first use)."""
    return f"gs-test-{uuid.uuid4().hex[:12]}"


if __name__ == "__main__":
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the servers on kill as on Ctrl-C
    server, s3 = start_swift()
    print("Swift s3api is up. For GridSight:")
    for k, v in s3.env().items():
        print(f"export {k}={v}")
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()
