"""The evidence object store: content-addressed blobs in a local folder or an S3 bucket.

Every write goes through :meth:`ObjectStore.put`, which names the object after the sha256 of
its bytes, so identical evidence is stored once and a key never changes meaning::

    >>> store = LocalStore("/tmp/gs-evidence", secret="s")
    >>> key = store.put(b"\\xff\\xd8 jpeg bytes", "image/jpeg")
    >>> key.startswith("evidence/"), key.endswith(".jpg")
    (True, True)
    >>> store.get(key)[:2]
    b'\\xff\\xd8'

Keys look like ``<prefix>/<sha[:2]>/<sha256><ext>`` (``ext`` from the content type, e.g.
``.jpg``); :func:`sha256_of` reads the hash back out of a key.

Two implementations, chosen by :func:`get_object_store` from the settings:

* :class:`LocalStore` (embedded default, ``settings.evidence_dir``): files written atomically
  (temp file + rename). Its "presigned" URLs are API paths
  ``/api/v1/objects/<key>?expires=<unix>&signature=<hex>`` signed with HMAC-SHA256 of
  the server's secret key (:func:`api.signing.secret_key`); the API serves them after :meth:`LocalStore.verify_signature`.
* :class:`S3Store`: any S3 server through the ``minio`` client (signature V4), bucket created
  if missing, content type set on every object, expiring presigned GET URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import secrets
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

MAX_URL_LIFETIME = timedelta(days=7)  # the S3 limit for presigned URLs; LocalStore keeps it too
LOCAL_URL_BASE = "/api/v1/objects"

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "application/json": ".json",
    "text/plain": ".txt",
    "application/octet-stream": ".bin",
}
_CONTENT_TYPES = {ext: ct for ct, ext in _EXTENSIONS.items()}
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
_KEY = re.compile(r"^(?P<prefix>[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*)/"
                  r"(?P<shard>[0-9a-f]{2})/(?P<sha>[0-9a-f]{64})(?P<ext>\.[a-z0-9]{1,5})$")


class ObjectStoreError(Exception):
    """The store cannot do what was asked (unreachable, credentials rejected, disk full...)."""


class ObjectNotFound(ObjectStoreError, KeyError):
    """No object under this key (or the key is not one this store could have made)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "object not found"


def extension_for(content_type: str) -> str:
    """File extension stored in the key for a content type (``.bin`` when unknown)."""
    return _EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".bin")


def content_type_of(key: str) -> str:
    """The content type an object was stored with, read from its key."""
    return _CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")


SERVED_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})  # what evidence is answered as


def served_type(declared: str | None, key: str) -> str:
    """The content type to answer an evidence object with: a type of :data:`SERVED_TYPES` (the one
    declared at ingest, else the key's), never a stored free-text value; anything else is served as
    ``application/octet-stream`` (with ``nosniff``, a browser then downloads it, never renders it)."""
    for ctype in (declared, content_type_of(key)):
        if ctype in SERVED_TYPES:
            return ctype
    return "application/octet-stream"


def make_key(data: bytes, content_type: str, prefix: str = "evidence") -> str:
    """The content-addressed key ``put`` would store ``data`` under."""
    if not _PREFIX.match(prefix):
        raise ValueError(f"object prefix {prefix!r} must be lower-case letters, digits, - and _ "
                         "(slash-separated)")
    sha = hashlib.sha256(data).hexdigest()
    return f"{prefix}/{sha[:2]}/{sha}{extension_for(content_type)}"


def check_key(key: str) -> re.Match:
    """Parse a key; :class:`ObjectNotFound` when it is not a key this module makes."""
    m = _KEY.match(key or "")
    if not m or m["shard"] != m["sha"][:2]:
        raise ObjectNotFound(f"not a valid object key: {key!r}")
    return m


def sha256_of(key: str) -> str:
    """The sha256 hex digest of the object's bytes, read from its key."""
    return check_key(key)["sha"]


def _check_lifetime(expires: timedelta) -> None:
    if not timedelta(seconds=1) <= expires <= MAX_URL_LIFETIME:
        raise ValueError(f"URL lifetime must be between 1 second and 7 days, not {expires}")


class ObjectStore(ABC):
    """Content-addressed evidence store. Implementations are safe to share between threads."""

    @abstractmethod
    def put(self, data: bytes, content_type: str, prefix: str = "evidence") -> str:
        """Store ``data`` (once per distinct content) and return its key."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`ObjectNotFound` when there are none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    def presigned_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """A URL that fetches the object without credentials until it expires."""

    @abstractmethod
    def health(self) -> None:
        """Return when the store is usable; raise :class:`ObjectStoreError` saying why not."""

    def content_type(self, key: str) -> str:
        return content_type_of(key)


class LocalStore(ObjectStore):
    """Objects as files under ``folder`` (the embedded default)."""

    def __init__(self, folder: str | os.PathLike, secret: str | None = None,
                 url_base: str = LOCAL_URL_BASE):
        self.folder = Path(folder)
        # no secret: a random one, so this instance's URLs work in this process only
        self._secret = (secret or secrets.token_urlsafe(32)).encode()
        self.url_base = url_base.rstrip("/")

    def __repr__(self) -> str:
        return f"LocalStore({str(self.folder)!r})"

    def _path(self, key: str) -> Path:
        check_key(key)  # also rules out "..", absolute paths and other escapes
        return self.folder / key

    def put(self, data: bytes, content_type: str, prefix: str = "evidence") -> str:
        key = make_key(data, content_type, prefix)
        path = self.folder / key
        if path.is_file():
            return key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)  # atomic: readers see all of it or nothing
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            raise ObjectStoreError(f"cannot write evidence under {self.folder}: {e}") from e
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in {self.folder}") from None
        except OSError as e:
            raise ObjectStoreError(f"cannot read {key!r} from {self.folder}: {e}") from e

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except ObjectNotFound:
            return False

    def signature(self, key: str, expires_at: int) -> str:
        msg = f"{key}\n{expires_at}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def presigned_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """``/api/v1/objects/<key>?expires=<unix>&signature=<hex>`` (a path on the API)."""
        _check_lifetime(expires)
        check_key(key)
        expires_at = int(time.time() + expires.total_seconds())
        return (f"{self.url_base}/{quote(key)}?expires={expires_at}"
                f"&signature={self.signature(key, expires_at)}")

    def verify_signature(self, key: str, expires_at: int, signature: str) -> bool:
        """Whether a URL made by :meth:`presigned_url` is genuine and not yet expired."""
        if expires_at < time.time():
            return False
        return hmac.compare_digest(self.signature(key, int(expires_at)), signature or "")

    def health(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".health-")
            os.close(fd)
            os.unlink(tmp)
        except OSError as e:
            raise ObjectStoreError(f"evidence folder {self.folder} is not writable: {e}") from e


class S3Store(ObjectStore):
    """Objects in an S3 bucket through the ``minio`` client (AWS signature V4)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str,
                 bucket: str = "gridsight-evidence", *, secure: bool = False,
                 region: str = "us-east-1", timeout_s: float = 10.0):
        import urllib3
        from minio import Minio

        self.endpoint = endpoint
        self.bucket = bucket
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
            maxsize=16,
            retries=urllib3.Retry(total=2, backoff_factor=0.1, status_forcelist=[500, 502, 503, 504]),
        )
        self.client = Minio(endpoint, access_key=access_key or None, secret_key=secret_key or None,
                            secure=secure, region=region or None, http_client=http)
        self._bucket_ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Store({self.endpoint!r}, bucket={self.bucket!r})"

    def _fail(self, what: str, e: Exception) -> ObjectStoreError:
        from minio.error import S3Error

        if isinstance(e, S3Error):
            if e.code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                          "InvalidClientTokenId", "AuthorizationHeaderMalformed"):
                return ObjectStoreError(
                    f"S3 at {self.endpoint} rejected the credentials while trying to {what} "
                    f"({e.code}: {e.message}); check GRIDSIGHT_S3_ACCESS_KEY and GRIDSIGHT_S3_SECRET_KEY")
            return ObjectStoreError(f"S3 at {self.endpoint} failed to {what}: {e.code}: {e.message}")
        return ObjectStoreError(f"S3 at {self.endpoint} is unreachable or failed to {what}: "
                                f"{type(e).__name__}: {e}")

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                if not self.client.bucket_exists(self.bucket):
                    self.client.make_bucket(self.bucket)
            except Exception as e:
                from minio.error import S3Error

                # Another process may have created it between the two calls.
                if not (isinstance(e, S3Error) and e.code in ("BucketAlreadyOwnedByYou",
                                                              "BucketAlreadyExists")):
                    raise self._fail(f"create bucket {self.bucket!r}", e) from e
            self._bucket_ready = True

    def put(self, data: bytes, content_type: str, prefix: str = "evidence") -> str:
        key = make_key(data, content_type, prefix)
        self._ensure_bucket()
        if self.exists(key):
            return key
        try:
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data),
                                   content_type=content_type.split(";")[0].strip().lower())
        except Exception as e:
            raise self._fail(f"store {key!r}", e) from e
        return key

    def get(self, key: str) -> bytes:
        check_key(key)
        from minio.error import S3Error

        try:
            resp = self.client.get_object(self.bucket, key)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject"):
                raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
            raise self._fail(f"read {key!r}", e) from e
        except Exception as e:
            raise self._fail(f"read {key!r}", e) from e
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def exists(self, key: str) -> bool:
        try:
            check_key(key)
        except ObjectNotFound:
            return False
        from minio.error import S3Error

        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"):
                return False
            raise self._fail(f"look up {key!r}", e) from e
        except Exception as e:
            raise self._fail(f"look up {key!r}", e) from e

    def presigned_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        _check_lifetime(expires)
        check_key(key)
        try:
            return self.client.presigned_get_object(self.bucket, key, expires=expires)
        except Exception as e:
            raise self._fail(f"sign a URL for {key!r}", e) from e

    def health(self) -> None:
        self._bucket_ready = False  # re-check for real: the bucket may have gone
        self._ensure_bucket()


def get_object_store(settings=None) -> ObjectStore:
    """The store the settings describe: S3 when ``s3_endpoint`` is set, else the local folder."""
    if settings is None:
        from gridsight.settings import get_settings

        settings = get_settings()
    if settings.s3_endpoint:
        return S3Store(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key,
                       settings.s3_bucket, secure=settings.s3_secure, region=settings.s3_region)
    from api.signing import secret_key

    return LocalStore(settings.evidence_dir, secret=secret_key(settings))
