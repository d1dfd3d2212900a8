"""Wrong-password logins from N threads until killed: ``python tests/security/flood.py URL N``.
A process of its own, so the flood does not share the measuring test's GIL."""

import sys
import threading
import time

import httpx


def flood(url: str, i: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        while True:
            r = c.post("/api/v1/auth/token", data={"username": f"victim{i % 4}", "password": f"wrong {time.time()}"})
            print(r.status_code, flush=True)


if __name__ == "__main__":
    url, n = sys.argv[1], int(sys.argv[2])
    for i in range(n):
        threading.Thread(target=flood, args=(url, i), daemon=True).start()
    while True:
        time.sleep(1)
