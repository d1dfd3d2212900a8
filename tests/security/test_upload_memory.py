"""Small files that decode to huge pictures cannot blow up the API's memory (issue 15, item 3).

A 7000x7000 black PNG is about 50 kB on the wire and 147 MB decoded. Four concurrent ``/detect``
requests of eight such files each (before: 5.6 GB peak) must keep the server process's resident
memory within 1 GB of what it held after loading the detector."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import httpx
import numpy as np
import pytest

from tests.security.server import INGEST_KEY, rss_bytes, served

GB = 1 << 30


@pytest.fixture(scope="module")
def big_png() -> bytes:
    ok, buf = cv2.imencode(".png", np.zeros((7000, 7000, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    return buf.tobytes()


def _detect(url: str, files: list[bytes], timeout: float = 600) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/detect", headers={"X-API-Key": INGEST_KEY}, timeout=timeout,
                      data={"create_tickets": "false"},
                      files=[("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(files)])


def test_four_requests_of_eight_49_megapixel_pngs_stay_under_1_gb(tmp_path, big_png, shared_data):
    assert len(big_png) < 500_000  # 49 megapixels
    with served(tmp_path, f"sqlite:///{tmp_path}/gs.db", decode_wait_s=300) as (url, pid):
        small = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
        assert _detect(url, [small]).status_code == 200  # the detector is loaded before the baseline
        baseline = peak = rss_bytes(pid)
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_bytes(pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(lambda _: _detect(url, [big_png] * 8), range(4)))
        finally:
            done.set()
            sampler.join()
        assert [r.status_code for r in answers] == [200] * 4, [r.text[:200] for r in answers]
        assert all(im["width"] == 7000 for r in answers for im in r.json()["images"])
        growth = peak - baseline
        print(f"RSS baseline {baseline / GB:.2f} GB, peak {peak / GB:.2f} GB, growth {growth / GB:.2f} GB")
        assert growth < GB, f"RSS grew by {growth / GB:.2f} GB"


def test_a_request_over_the_pixel_budget_is_413(tmp_path, big_png):
    with served(tmp_path, f"sqlite:///{tmp_path}/gs.db", upload_max_request_pixels=100_000_000) as (url, _):
        r = _detect(url, [big_png] * 3)
        assert r.status_code == 413 and "pixel" in r.json()["detail"], r.text
