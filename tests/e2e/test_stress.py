"""A bounded load test of `tastebud serve`, on loopback only: 16 concurrent clients,
rounds of 160 requests (10% of them bad), a fixed deadline. Run by `make stress` and `make test`.

The memory check tells a leak from warm-up. The server first answers one request of each batch
size the micro-batcher can form (1 to its maximum), then WARMUP_ROUNDS rounds of the very load
it is measured under (so the allocator has grown its arenas for that load); then the resident set size is read
after each of MEASURED_ROUNDS more rounds, and the median growth per round, divided by the
requests in a round, must stay under GROWTH_LIMIT bytes per request: a third of one decoded
224 x 224 photo. The median of the round-to-round steps ignores one late warm-up step (or
one release back to the OS); a real leak grows every step. `test_memory_check_catches_a_leak`
runs the same check against tests/support/leaky_server.py, the real server keeping one decoded photo
per request, and requires it to fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import psutil
import pytest

from tastebud.web.batching import BatchingParams
from tests.support.common import REPO, free_port
from tests.support.leaky_server import LEAK_BYTES
from tests.support.pipeline_runs import eval_examples
from tests.support.stress_load import (
    BAD_EVERY,
    CLIENTS,
    DEADLINE_S,
    GROWTH_LIMIT,
    MEASURED_ROUNDS,
    ROUND,
    WARMUP_ROUNDS,
    growth_per_request,
)

BAD_UPLOADS = [
    ("empty.jpg", b"", "image/jpeg"),
    ("notes.jpg", b"plain text pretending to be a photo", "image/jpeg"),
    ("page.png", b"<html><script>alert(1)</script></html>", "image/png"),
]


@contextmanager
def _server(module: str, model, port: int):
    import httpx

    server = subprocess.Popen(
        [sys.executable, "-m", *module.split(), "--model", str(model), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        started = time.monotonic()
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, f"server exited: {server.stderr.read().decode()[-3000:]}"
            assert time.monotonic() - started < 180, "server did not start"
            time.sleep(0.5)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _load(module: str, model, image: bytes) -> dict:
    """Start the server, run the warm-up and measured rounds; every outcome and the RSS series."""
    import httpx

    truncated = ("cut.jpg", image[: len(image) // 2], "image/jpeg")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _server(module, model, port) as server:
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

        for k in range(1, BatchingParams().max_batch_size + 1):  # every batch size, once, before the load
            response = client.post(f"{url}/predict", files=[("files", ("ok.jpg", image, "image/jpeg"))] * k)
            assert response.status_code == 200, response.text
        process = psutil.Process(server.pid)
        outcomes, rss, seconds = [], [], []
        with ThreadPoolExecutor(CLIENTS) as pool:
            for round_ in range(WARMUP_ROUNDS + MEASURED_ROUNDS):
                started = time.monotonic()
                outcomes += pool.map(request, range(round_ * ROUND, (round_ + 1) * ROUND))
                seconds.append(time.monotonic() - started)
                if round_ >= WARMUP_ROUNDS - 1:
                    rss.append(process.memory_info().rss)
        healthy = httpx.get(f"{url}/healthz", timeout=10).json()
        batch_sizes = httpx.get(f"{url}/stats", timeout=10).json()["batching"]["batch_sizes"]
    return dict(outcomes=outcomes, rss=rss, seconds=seconds, healthy=healthy, batch_sizes=batch_sizes)


@pytest.mark.slow
@pytest.mark.stress
def test_sixteen_clients_rounds_of_requests(flowers, artifacts_dir):
    key, label, image = eval_examples(flowers["data"])[0]
    run = _load("tastebud serve", flowers["serving"], image)
    outcomes = run["outcomes"]

    statuses = [status for status, *_ in outcomes]
    assert 0 not in statuses, "the load test hit its deadline"
    assert not [s for s in statuses if s >= 500], statuses
    good = [(s, body) for s, bad, _, body in outcomes if not bad]
    bad = [(s, body) for s, is_bad, _, body in outcomes if is_bad]
    assert len(bad) == len(outcomes) // BAD_EVERY
    assert all(s == 200 and body["predictions"][0]["label"] == label for s, body in good)
    assert all(400 <= s < 500 and body["error"] for s, body in bad)
    assert run["healthy"]["status"] == "ok"
    assert set(run["batch_sizes"]) >= {str(k) for k in range(1, BatchingParams().max_batch_size + 1)}, run[
        "batch_sizes"
    ]
    latencies = np.array([t for _, is_bad, t, _ in outcomes if not is_bad]) * 1000
    growth = growth_per_request(run["rss"], ROUND)
    report = {
        "requests": len(outcomes),
        "clients": CLIENTS,
        "rounds": {"warm_up": WARMUP_ROUNDS, "measured": MEASURED_ROUNDS, "requests_each": ROUND},
        "bad": len(bad),
        "good": len(good),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "round_seconds": [round(s, 2) for s in run["seconds"]],
        "batch_sizes": run["batch_sizes"],
        "rss_mb_after_warm_up_then_each_round": [round(r / 2**20, 1) for r in run["rss"]],
        "growth_bytes_per_request": growth,
        "growth_limit_bytes_per_request": GROWTH_LIMIT,
    }
    (artifacts_dir / "stress.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report))
    assert growth < GROWTH_LIMIT, f"server memory grows {growth / 1024:.0f} kB per request under load: {report}"


@pytest.mark.slow
@pytest.mark.stress
def test_memory_check_catches_a_leak(flowers, artifacts_dir):
    """The same load and check against the real server with a deliberate leak of one decoded
    224 x 224 photo per request (tests/support/leaky_server.py): the check must fail."""
    _, _, image = eval_examples(flowers["data"])[0]
    run = _load("tests.support.leaky_server", flowers["serving"], image)
    growth = growth_per_request(run["rss"], ROUND)
    (artifacts_dir / "stress_leak.json").write_text(
        json.dumps({"rss_mb": [round(r / 2**20, 1) for r in run["rss"]], "growth_bytes_per_request": growth})
    )
    assert growth >= GROWTH_LIMIT, f"a leak of {LEAK_BYTES} B per request went unseen: {growth:.0f} B per request"
