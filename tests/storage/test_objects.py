"""The evidence object store: the same behaviour from the local folder and from real S3 (Swift)."""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from api.storage import (LocalStore, ObjectNotFound, ObjectStoreError, S3Store, get_object_store,
                         sha256_of)
from gridsight.settings import Settings

JPEG = b"\xff\xd8\xff\xe0" + b"gridsight evidence " * 64 + b"\xff\xd9"


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "evidence", secret="test-secret")
    s3 = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(s3.endpoint, s3.access_key, s3.secret_key, bucket, region=s3.region)


def stored_keys(store) -> list[str]:
    if isinstance(store, LocalStore):
        return sorted(str(p.relative_to(store.folder)) for p in store.folder.rglob("*") if p.is_file())
    return sorted(o.object_name for o in store.client.list_objects(store.bucket, recursive=True))


def test_round_trip_keeps_bytes_and_content_type(store):
    key = store.put(JPEG, "image/jpeg")
    assert key == f"evidence/{hashlib.sha256(JPEG).hexdigest()[:2]}/{hashlib.sha256(JPEG).hexdigest()}.jpg"
    assert sha256_of(key) == hashlib.sha256(JPEG).hexdigest()
    assert store.get(key) == JPEG
    assert store.exists(key)
    assert store.content_type(key) == "image/jpeg"
    png_key = store.put(b"\x89PNG\r\n\x1a\n other", "image/png", prefix="uploads")
    assert png_key.startswith("uploads/") and png_key.endswith(".png")
    assert store.get(png_key) == b"\x89PNG\r\n\x1a\n other"


def test_identical_bytes_are_stored_once(store):
    first = store.put(JPEG, "image/jpeg")
    again = store.put(JPEG, "image/jpeg")
    other = store.put(JPEG + b"x", "image/jpeg")
    assert first == again != other
    assert stored_keys(store) == sorted([first, other])


def test_concurrent_puts_of_one_content_make_one_object(store):
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: store.put(JPEG, "image/jpeg"), range(16)))
    assert len(keys) == 1
    assert stored_keys(store) == list(keys)  # and no temporary files left behind
    assert store.get(keys.pop()) == JPEG


def test_missing_and_malformed_keys(store):
    missing = "evidence/00/" + "0" * 64 + ".jpg"
    with pytest.raises(ObjectNotFound, match="no object"):
        store.get(missing)
    with pytest.raises(KeyError):  # ObjectNotFound is a KeyError for callers that expect one
        store.get(missing)
    assert not store.exists(missing)
    for bad in ("../../etc/passwd", "evidence/../../x", "/etc/passwd", "", "evidence/ab/" + "0" * 64 + ".jpg"):
        with pytest.raises(ObjectNotFound, match="not a valid object key"):
            store.get(bad)
        assert not store.exists(bad)


def test_bad_prefix_and_url_lifetime_are_refused(store):
    with pytest.raises(ValueError, match="prefix"):
        store.put(JPEG, "image/jpeg", prefix="../up")
    key = store.put(JPEG, "image/jpeg")
    with pytest.raises(ValueError, match="7 days"):
        store.presigned_url(key, timedelta(days=8))


def test_health_passes_on_a_working_store(store):
    store.health()


# --- S3 specifics -----------------------------------------------------------------------------

def s3_store(s3_server, bucket, **overrides) -> S3Store:
    args = dict(endpoint=s3_server.endpoint, access_key=s3_server.access_key,
                secret_key=s3_server.secret_key, bucket=bucket, region=s3_server.region)
    args.update(overrides)
    return S3Store(args.pop("endpoint"), args.pop("access_key"), args.pop("secret_key"), **args)


def test_s3_creates_the_bucket_and_sets_content_type(s3_server, s3_bucket):
    store = s3_store(s3_server, s3_bucket)
    assert not store.client.bucket_exists(s3_bucket)
    key = store.put(JPEG, "image/jpeg")
    assert store.client.bucket_exists(s3_bucket)
    assert store.client.stat_object(s3_bucket, key).content_type == "image/jpeg"
    # a second store on the same bucket finds it there and does not fail
    assert s3_store(s3_server, s3_bucket).put(b"{}", "application/json").endswith(".json")


def test_s3_presigned_url_is_fetchable_over_http_until_tampered_or_expired(s3_server, s3_bucket):
    store = s3_store(s3_server, s3_bucket)
    key = store.put(JPEG, "image/jpeg")
    url = store.presigned_url(key, timedelta(minutes=5))
    assert url.startswith(f"http://{s3_server.endpoint}/{s3_bucket}/{key}?")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as r:  # no credentials: the URL is the grant
        assert r.status == 200
        assert r.headers["Content-Type"] == "image/jpeg"
        assert r.read() == JPEG

    sig = url.rsplit("X-Amz-Signature=", 1)[1]
    tampered = url.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403

    short = store.presigned_url(key, timedelta(seconds=1))
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(short, timeout=10)
    assert e.value.code == 403


def test_s3_bad_credentials_give_a_clear_error(s3_server, s3_bucket):
    wrong_secret = s3_store(s3_server, s3_bucket, secret_key="not-the-secret")
    with pytest.raises(ObjectStoreError, match="rejected the credentials.*GRIDSIGHT_S3_SECRET_KEY"):
        wrong_secret.put(JPEG, "image/jpeg")
    with pytest.raises(ObjectStoreError, match="rejected the credentials"):
        wrong_secret.health()
    wrong_user = s3_store(s3_server, s3_bucket, access_key="nobody:here")
    with pytest.raises(ObjectStoreError, match="rejected the credentials"):
        wrong_user.health()


def test_s3_unreachable_endpoint_gives_a_clear_error(s3_bucket):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = S3Store(f"127.0.0.1:{port}", "a:b", "c", s3_bucket, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(ObjectStoreError, match=f"127.0.0.1:{port} is unreachable"):
        store.health()
    assert time.monotonic() - started < 10


# --- local specifics ---------------------------------------------------------------------------

def test_local_presigned_url_is_an_api_path_with_a_checked_signature(tmp_path):
    store = LocalStore(tmp_path, secret="s3cret")
    key = store.put(JPEG, "image/jpeg")
    url = store.presigned_url(key, timedelta(minutes=5))
    path, query = url.split("?")
    assert path == f"/api/v1/objects/{key}"
    params = dict(p.split("=") for p in query.split("&"))
    expires, sig = int(params["expires"]), params["signature"]
    assert store.verify_signature(key, expires, sig)
    assert not store.verify_signature(key, expires + 1, sig)  # lifetime stretched
    assert not store.verify_signature(key.replace(".jpg", ".png"), expires, sig)
    assert not LocalStore(tmp_path, secret="other").verify_signature(key, expires, sig)
    assert not store.verify_signature(key, int(time.time()) - 1, store.signature(key, int(time.time()) - 1))


def test_local_store_reports_an_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = LocalStore(blocker / "evidence")
    with pytest.raises(ObjectStoreError, match="not writable"):
        store.health()
    with pytest.raises(ObjectStoreError, match="cannot write evidence"):
        store.put(JPEG, "image/jpeg")


def test_settings_choose_the_store(tmp_path, s3_server):
    local = get_object_store(Settings(home=tmp_path, s3_endpoint=""))
    assert isinstance(local, LocalStore) and local.folder == tmp_path / "evidence"
    s3 = get_object_store(Settings(home=tmp_path, **{k[len("GRIDSIGHT_"):].lower(): v
                                                       for k, v in s3_server.env("gs-chosen").items()}))
    assert isinstance(s3, S3Store) and s3.bucket == "gs-chosen"
    key = s3.put(JPEG, "image/jpeg")
    assert s3.get(key) == JPEG
