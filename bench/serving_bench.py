"""(7) one-image latency and throughput at concurrency 1, 4 and 16: the in-process
SavedModel, the raw Keras model (the limit), and the web endpoint."""

from __future__ import annotations

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


def web(serving_dir: Path, image: bytes) -> dict:
    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tastebud", "serve", "--model", str(serving_dir), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32))

        def call():
            response = client.post(f"{url}/predict", files=[("files", ("a.jpg", image, "image/jpeg"))])
            response.raise_for_status()

        return measure("web endpoint", call)
    finally:
        server.terminate()
        server.wait(timeout=30)
