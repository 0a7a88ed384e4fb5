"""`tastebud serve` under load, for the web rows (bench/serving_bench.py): the server in a
child process (`web_server`) and one-photo POST /predict requests:

* closed loop (`clients`): N clients, each sending its next request when its answer comes;
* open loop (`open_loop`): requests arriving at a fixed mean rate whatever the answers do
  (Poisson arrivals, seeded), each latency counted from its planned arrival, so a client
  that falls behind cannot hide the server's delays (no coordinated omission).
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from bench.common import REPO

OPEN_LOOP_WORKERS = 64  # threads sending open-loop requests: enough that none waits for a free one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def web_server(serving_dir: Path, *flags: str):
    """`tastebud serve --model serving_dir` in a child process; yields its base URL once healthy."""
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tastebud", "serve", "--model", str(serving_dir), "--port", str(port), *flags],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def multipart(image: bytes) -> tuple[bytes, str]:
    """One photo as a multipart/form-data body (built once: the load generator stays cheap)."""
    boundary = "tastebudbench"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n'
    head += "Content-Type: image/jpeg\r\n\r\n"
    return head.encode() + image + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _connection(url: str) -> http.client.HTTPConnection:
    address = urlparse(url)
    return http.client.HTTPConnection(address.hostname, address.port, timeout=120)


def _post(connection: http.client.HTTPConnection, body: bytes, content_type: str) -> tuple[int, bytes]:
    connection.request("POST", "/predict", body, {"Content-Type": content_type})
    response = connection.getresponse()
    return response.status, response.read()


def clients(url: str, image: bytes, count: int, requests_each: int) -> tuple[float, list[float]]:
    """`count` threads, each with one keep-alive connection, send `requests_each` one-photo
    requests back to back. Returns (seconds for all, per-request latencies in seconds).
    Raises RuntimeError on any answer but 200."""
    body, content_type = multipart(image)

    def one_client(_: int) -> list[float]:
        connection = _connection(url)
        latencies = []
        for _ in range(requests_each):
            start = time.perf_counter()
            status, payload = _post(connection, body, content_type)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"/predict answered {status}: {payload[:300]!r}")
        connection.close()
        return latencies

    with ThreadPoolExecutor(count) as pool:
        start = time.perf_counter()
        per_client = list(pool.map(one_client, range(count)))
        return time.perf_counter() - start, [t for latencies in per_client for t in latencies]


def poisson_arrivals(rate: float, requests: int, seed: int = 0) -> list[float]:
    """Seconds from the start at which each of `requests` requests arrives, at `rate` a second."""
    rng, t, times = random.Random(seed), 0.0, []
    for _ in range(requests):
        t += rng.expovariate(rate)
        times.append(t)
    return times


def open_loop(url: str, image: bytes, rate: float, requests: int, seed: int = 0) -> dict:
    """`requests` one-photo requests with Poisson arrivals at `rate` a second. Each thread keeps
    a keep-alive connection (a new one if the server closed it). Returns the offered rate, that
    of the drawn arrivals, answers a second, seconds, p50/p99/max latency in ms from each
    planned arrival, answers that were not 200 (`errors`, by status) and the client's worst
    lag behind the plan."""
    body, content_type = multipart(image)
    arrivals = poisson_arrivals(rate, requests, seed)
    local = threading.local()
    start = time.perf_counter() + 0.5  # every thread started

    def send(at: float) -> tuple[float, int, float]:
        planned = start + at
        delay = planned - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        lag = time.perf_counter() - planned
        connection = getattr(local, "connection", None)
        try:
            if connection is None:
                raise ConnectionError
            status, _ = _post(connection, body, content_type)
        except (ConnectionError, http.client.HTTPException):
            connection = local.connection = _connection(url)
            status, _ = _post(connection, body, content_type)
        return time.perf_counter() - planned, status, lag

    with ThreadPoolExecutor(OPEN_LOOP_WORKERS) as pool:
        answers = list(pool.map(send, arrivals))
    seconds = max(planned + latency for planned, (latency, _, _) in zip(arrivals, answers, strict=True))
    ms = np.array([latency for latency, _, _ in answers]) * 1000
    errors: dict[str, int] = {}
    for _, status, _ in answers:
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
    return {
        "arrivals": "poisson",
        "seed": seed,
        "requests": requests,
        "offered_rate_per_s": rate,
        "sampled_rate_per_s": requests / arrivals[-1],  # this seed's arrivals: the load actually offered
        "answered_per_s": requests / seconds,
        "seconds": seconds,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "errors": errors,
        "max_client_lag_ms": 1000 * max(lag for _, _, lag in answers),
    }
