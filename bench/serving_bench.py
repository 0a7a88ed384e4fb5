"""(7) one-image latency and throughput at concurrency 1, 4 and 16: the in-process
SavedModel, the raw Keras model (the limit), and the web endpoint."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.common import REPO, log

LATENCY_REQUESTS = 100
THROUGHPUT_REQUESTS = 96
CONCURRENCY = (1, 4, 16)


def _latency(call, warmup: int = 5) -> dict:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(LATENCY_REQUESTS):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    ms = np.array(samples) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def _throughput(call) -> dict:
    result = {}
    for workers in CONCURRENCY:
        with ThreadPoolExecutor(workers) as pool:
            start = time.perf_counter()
            list(pool.map(lambda _: call(), range(THROUGHPUT_REQUESTS)))
            result[str(workers)] = THROUGHPUT_REQUESTS / (time.perf_counter() - start)
    return result


def measure(name: str, call) -> dict:
    stats = {**_latency(call), "images_per_s_at_concurrency": _throughput(call)}
    log(
        f"serving {name}: p50 {stats['p50_ms']:.1f} ms, p99 {stats['p99_ms']:.1f} ms, "
        f"throughput {stats['images_per_s_at_concurrency']}"
    )
    return stats


def in_process(serving_dir: Path, image: bytes) -> dict:
    from tastebud.inference import LocalModel

    model = LocalModel(serving_dir)
    return measure("in-process SavedModel", lambda: model.predict([image], ["k"]))


def raw_keras(serving_dir: Path, backbone: str, image: bytes) -> dict:
    """The backbone and a head of the same shape as plain Keras models, on an already decoded image."""
    import tensorflow as tf
    import tf_keras

    from bench.backbone_bench import extractor
    from preprocessing.backbones import get_backbone
    from preprocessing.images import decode_and_resize

    features = extractor(backbone)
    head = tf_keras.Sequential(
        [
            tf_keras.Input((get_backbone(backbone).embedding_size,)),
            tf_keras.layers.Dense(256, activation="relu"),
            tf_keras.layers.Dense(5, activation="softmax"),
        ]
    )
    pixels = decode_and_resize(tf.constant([image]), get_backbone(backbone).input_size)
    forward = tf.function(lambda x: head(features(x, training=False), training=False))  # compiled: the fastest way
    return measure("raw Keras model", lambda: forward(pixels).numpy())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _web_server(serving_dir: Path, *flags: str):
    """`tastebud serve --model serving_dir` in a child process; yields its base URL once healthy."""
    import httpx

    port = _free_port()
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


def web(serving_dir: Path, image: bytes) -> dict:
    """The web endpoint through httpx: p50/p99 at one client and img/s at 1/4/16 (measure()'s dict)."""
    import httpx

    with _web_server(serving_dir) as url:
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32))

        def call():
            response = client.post(f"{url}/predict", files=[("files", ("a.jpg", image, "image/jpeg"))])
            response.raise_for_status()

        return measure("web endpoint", call)


# ---- web micro-batching vs in-process batches (issue 14) ------------------------------------

BATCH = 16
ROUNDS = 20  # requests per client in each concurrency step: 320 at 16 clients, enough for a p99
IN_PROCESS_CALLS = 20  # calls of BATCH images for the in-process rate


def _multipart(image: bytes) -> tuple[bytes, str]:
    """One photo as a multipart/form-data body (built once: the load generator stays cheap)."""
    boundary = "tastebudbench"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n'
    head += "Content-Type: image/jpeg\r\n\r\n"
    return head.encode() + image + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _clients(url: str, image: bytes, clients: int, requests_each: int) -> tuple[float, list[float]]:
    """`clients` threads, each with one keep-alive connection, send `requests_each` one-photo
    requests back to back. Returns (seconds for all, per-request latencies in seconds).
    Raises RuntimeError on any answer but 200."""
    import http.client
    from urllib.parse import urlparse

    body, content_type = _multipart(image)
    address = urlparse(url)

    def one_client(_: int) -> list[float]:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        latencies = []
        for _ in range(requests_each):
            start = time.perf_counter()
            connection.request("POST", "/predict", body, {"Content-Type": content_type})
            response = connection.getresponse()
            payload = response.read()
            latencies.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"/predict answered {response.status}: {payload[:300]!r}")
        connection.close()
        return latencies

    with ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        per_client = list(pool.map(one_client, range(clients)))
        return time.perf_counter() - start, [t for latencies in per_client for t in latencies]


def in_process_batch(serving_dir: Path, image: bytes, batch: int = BATCH) -> float:
    """LocalModel.predict on `batch` copies of `image`, in images per second (after warm-up)."""
    from tastebud.inference import LocalModel

    model = LocalModel(serving_dir)
    images, keys = [image] * batch, [f"k{i}" for i in range(batch)]
    for _ in range(3):
        model.predict(images, keys)
    start = time.perf_counter()
    for _ in range(IN_PROCESS_CALLS):
        model.predict(images, keys)
    return IN_PROCESS_CALLS * batch / (time.perf_counter() - start)


def web_batching(serving_dir: Path, image: bytes, *flags: str) -> dict:
    """The batching web server against the in-process model at batch 16, in one run.

    Keys: web_images_per_s {"1", "4", "16"} (concurrent one-photo clients),
    in_process_batch16_images_per_s (the mean of a measure before and one after the web
    server ran: the machine's load drifts), web16_vs_in_process16, p50_ms_1_client,
    p99_ms_16_clients (and p50_ms_16_clients, p99_16_over_p50_1, and the server's batch
    sizes at 16 clients: batch_sizes_16_clients {images: calls}, mean_batch_size_16_clients).
    `flags` go to `tastebud serve` (e.g. "--batch-timeout-ms", "5"). Raises RuntimeError
    if any request fails.
    """
    import httpx

    in_process_before = in_process_batch(serving_dir, image)  # before and after: the machine's load drifts
    with _web_server(serving_dir, *flags) as url:
        _clients(url, image, BATCH, 3)  # warm-up: every batch size the load makes
        _, single = _clients(url, image, 1, LATENCY_REQUESTS)
        rates, latencies = {}, {}
        for clients in CONCURRENCY:
            before = httpx.get(f"{url}/stats", timeout=10).json()["batching"]
            seconds, latencies[clients] = _clients(url, image, clients, ROUNDS if clients > 1 else 2 * ROUNDS)
            rates[str(clients)] = len(latencies[clients]) / seconds
        after = httpx.get(f"{url}/stats", timeout=10).json()["batching"]
    in_process_after = in_process_batch(serving_dir, image)  # with the server stopped: no contention
    in_process = (in_process_before + in_process_after) / 2
    sizes = {k: n - before["batch_sizes"].get(k, 0) for k, n in after["batch_sizes"].items()}
    sizes = {k: n for k, n in sizes.items() if n}
    ms = {c: np.array(t) * 1000 for c, t in latencies.items()}
    p50_single = float(np.percentile(np.array(single) * 1000, 50))
    result = {
        "web_images_per_s": rates,
        "in_process_batch16_images_per_s": in_process,
        "in_process_batch16_before_after": [in_process_before, in_process_after],
        "web16_vs_in_process16": rates["16"] / in_process,
        "p50_ms_1_client": p50_single,
        "p99_ms_16_clients": float(np.percentile(ms[16], 99)),
        "p50_ms_16_clients": float(np.percentile(ms[16], 50)),
        "p99_16_over_p50_1": float(np.percentile(ms[16], 99)) / p50_single,
        "batch_sizes_16_clients": sizes,
        "mean_batch_size_16_clients": sum(int(k) * n for k, n in sizes.items()) / max(1, sum(sizes.values())),
        "server_flags": list(flags),
    }
    log(f"web batching: {json.dumps(result)}")
    return result


def summary(r: dict) -> str:
    """web_batching()'s numbers as lines of text."""
    rates = r["web_images_per_s"]
    return "\n".join(
        [
            f"web img/s at 1/4/16 clients: {rates['1']:.1f} / {rates['4']:.1f} / {rates['16']:.1f}",
            f"in-process LocalModel.predict at batch 16: {r['in_process_batch16_images_per_s']:.1f} img/s",
            f"web16 / in-process16: {r['web16_vs_in_process16']:.2f} (goal >= 0.8)",
            f"p50 at 1 client: {r['p50_ms_1_client']:.1f} ms; at 16 clients p50 {r['p50_ms_16_clients']:.1f} ms, "
            f"p99 {r['p99_ms_16_clients']:.1f} ms = {r['p99_16_over_p50_1']:.1f} x the 1-client p50 (goal <= 3)",
            f"batch sizes at 16 clients (images: calls): {r['batch_sizes_16_clients']}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.serving_bench --model SERVING_DIR [--image FILE] [-- SERVE_FLAGS...]`."""
    import argparse

    from bench.common import sample_images

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", required=True, help="a serving dir (e.g. OUT/serving/tastebud)")
    parser.add_argument("--image", help="the photo every request sends (default: the first bundled sample)")
    parser.add_argument("flags", nargs="*", help="extra `tastebud serve` flags, after --")
    args = parser.parse_args(argv)
    image = Path(args.image).read_bytes() if args.image else sample_images()[0][2]
    result = web_batching(Path(args.model), image, *args.flags)
    print(summary(result))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
