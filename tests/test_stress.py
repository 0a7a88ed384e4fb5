"""A bounded load test of `tastebud serve`, on loopback only: 16 concurrent clients,
500 requests (10% of them bad), a fixed deadline. Run by `make stress` and `make test`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psutil
import pytest

from tests.conftest import REPO, eval_examples

pytestmark = [pytest.mark.slow, pytest.mark.stress]
CLIENTS, REQUESTS, BAD_EVERY, DEADLINE_S = 16, 500, 10, 600
BAD_UPLOADS = [
    ("empty.jpg", b"", "image/jpeg"),
    ("notes.jpg", b"plain text pretending to be a photo", "image/jpeg"),
    ("page.png", b"<html><script>alert(1)</script></html>", "image/png"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sixteen_clients_five_hundred_requests(flowers, artifacts_dir):
    import httpx

    key, label, image = eval_examples(flowers["data"])[0]
    truncated = ("cut.jpg", image[: len(image) // 2], "image/jpeg")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tastebud", "serve", "--model", str(flowers["serving"]), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() - started < 180, "server did not start"
            time.sleep(0.5)
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=CLIENTS))
        deadline = time.monotonic() + DEADLINE_S

        def request(i: int) -> tuple[int, bool, float, dict]:
            if time.monotonic() > deadline:
                return 0, False, 0.0, {}
            bad = i % BAD_EVERY == 0
            files = (
                [BAD_UPLOADS[i // BAD_EVERY % 3] if i % 20 else truncated] if bad else [("ok.jpg", image, "image/jpeg")]
            )
            start = time.perf_counter()
            response = client.post(f"{url}/predict", files=[("files", f) for f in files])
            return response.status_code, bad, time.perf_counter() - start, response.json()

        warmup = [request(1) for _ in range(20)]
        assert all(status == 200 for status, *_ in warmup)
        rss_before = psutil.Process(server.pid).memory_info().rss
        with ThreadPoolExecutor(CLIENTS) as pool:
            outcomes = list(pool.map(request, range(REQUESTS)))
        rss_after = psutil.Process(server.pid).memory_info().rss
        healthy = httpx.get(f"{url}/healthz", timeout=10).json()
    finally:
        server.terminate()
        server.wait(timeout=30)

    statuses = [status for status, *_ in outcomes]
    assert 0 not in statuses, "the load test hit its deadline"
    assert not [s for s in statuses if s >= 500], statuses
    good = [(s, body) for s, bad, _, body in outcomes if not bad]
    bad = [(s, body) for s, is_bad, _, body in outcomes if is_bad]
    assert len(bad) == REQUESTS // BAD_EVERY
    assert all(s == 200 and body["predictions"][0]["label"] == label for s, body in good)
    assert all(400 <= s < 500 and body["error"] for s, body in bad)
    assert healthy["status"] == "ok"
    growth = rss_after / rss_before - 1
    assert growth < 0.15, f"server memory grew {growth:.0%} under load"
    latencies = np.array([t for _, is_bad, t, _ in outcomes if not is_bad]) * 1000
    report = {
        "requests": REQUESTS,
        "clients": CLIENTS,
        "bad": len(bad),
        "good": len(good),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "rss_before_mb": rss_before / 2**20,
        "rss_after_mb": rss_after / 2**20,
    }
    (artifacts_dir / "stress.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report))
