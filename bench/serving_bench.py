"""(7) one-image latency and throughput at concurrency 1, 4 and 16: the in-process
SavedModel, the raw Keras model (the limit), and the web endpoint."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench import load
from bench.common import log

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


# ---- web micro-batching vs in-process batches (issue 14) ------------------------------------

BATCH = 16
ROUNDS = 20  # requests per client in each concurrency step: 320 at 16 clients, enough for a p99
IN_PROCESS_CALLS = 20  # calls of BATCH images for the in-process rate
PAIRS = 3  # alternating rounds of in-process and web at 16 clients
OPEN_LOAD = 0.5  # the open loop offers this fraction of the in-process batch-16 rate (issue 27)
OPEN_SECONDS = 20.0  # ... for this long, and at least OPEN_MIN_REQUESTS requests: a stable p99
OPEN_MIN_REQUESTS = 500


class _InProcess:
    """LocalModel.predict on BATCH copies of one image, loaded and warmed up once."""

    def __init__(self, serving_dir: Path, image: bytes):
        from tastebud.inference import LocalModel

        self.model = LocalModel(serving_dir)
        self.images, self.keys = [image] * BATCH, [f"k{i}" for i in range(BATCH)]
        for _ in range(3):
            self.model.predict(self.images, self.keys)

    def images_per_s(self) -> float:
        """IN_PROCESS_CALLS calls of BATCH images, in images per second."""
        start = time.perf_counter()
        for _ in range(IN_PROCESS_CALLS):
            self.model.predict(self.images, self.keys)
        return IN_PROCESS_CALLS * BATCH / (time.perf_counter() - start)


def _batch_sizes(url: str) -> dict[str, int]:
    import httpx

    return httpx.get(f"{url}/stats", timeout=10).json()["batching"]["batch_sizes"]


def _alternate(url: str, image: bytes, in_process: _InProcess) -> tuple[list[float], list[float], list[float]]:
    """PAIRS rounds of (in-process at batch 16, web at 16 clients), back to back, so that both
    see the same load on a shared machine. Returns (in-process img/s, web img/s, web latencies s)."""
    local, web, latencies = [], [], []
    for _ in range(PAIRS):
        local.append(in_process.images_per_s())  # the server idles meanwhile
        seconds, round_latencies = load.clients(url, image, BATCH, ROUNDS)
        web.append(len(round_latencies) / seconds)
        latencies += round_latencies
    return local, web, latencies


def web_batching(
    serving_dir: Path, image: bytes, *flags: str, open_seconds: float = OPEN_SECONDS, open_min: int = OPEN_MIN_REQUESTS
) -> dict:
    """The batching web server against the in-process model at batch 16, in one run.

    Keys: web_images_per_s {"1", "4", "16"} (concurrent one-photo clients; at 16, the median
    of PAIRS rounds), in_process_batch16_images_per_s (the median of PAIRS rounds, each right
    before a web round: the load of a shared machine drifts), web16_vs_in_process16 (the
    ratio of those medians), p50_ms_1_client, p99_ms_16_clients (over all web rounds at 16),
    and p50_ms_16_clients, p99_16_over_p50_1, the per-round rates (*_rounds), the server's
    batch sizes at 16 clients (batch_sizes_16_clients {images: calls}) and their mean.
    Issue 27's tail goals, each with its inputs: closed_loop_16 (p99 at 16 clients against
    the Little's-law floor) and open_loop (Poisson arrivals at OPEN_LOAD of the in-process
    batch-16 rate, for open_seconds and at least open_min requests; p99 against the
    1-client p50). `flags` go to `tastebud serve` (e.g. "--batch-timeout-ms", "5"). Raises
    RuntimeError if any closed-loop request fails; the open loop counts its failures.
    """
    in_process = _InProcess(serving_dir, image)
    with load.web_server(serving_dir, *flags) as url:
        load.clients(url, image, BATCH, 3)  # warm-up: every batch size the load makes
        _, single = load.clients(url, image, 1, LATENCY_REQUESTS)
        rates = {}
        for clients in CONCURRENCY[:-1]:
            seconds, latencies = load.clients(url, image, clients, 2 * ROUNDS)
            rates[str(clients)] = len(latencies) / seconds
        before = _batch_sizes(url)
        local, web, ms16 = _alternate(url, image, in_process)
        after = _batch_sizes(url)
        capacity = float(np.median(local))
        rate = OPEN_LOAD * capacity
        open_loop = load.open_loop(url, image, rate, max(open_min, int(open_seconds * rate + 0.5)))
    rates["16"] = float(np.median(web))
    sizes = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
    ms = np.array(ms16) * 1000
    p50_single = float(np.percentile(np.array(single) * 1000, 50))
    # Little's law: 16 clients always waiting get a mean latency of 16 / throughput, so no
    # server doing at most in-process16 img/s can answer them faster on average than this.
    floor = 1000 * BATCH / capacity
    p99 = float(np.percentile(ms, 99))
    result = {
        "web_images_per_s": rates,
        "in_process_batch16_images_per_s": capacity,
        "web16_vs_in_process16": rates["16"] / capacity,
        "p50_ms_1_client": p50_single,
        "p99_ms_16_clients": p99,
        "p50_ms_16_clients": float(np.percentile(ms, 50)),
        "p99_16_over_p50_1": p99 / p50_single,
        "latency_floor_ms_16_clients": floor,
        "closed_loop_16": {
            "clients": BATCH,
            "requests": len(ms16),
            "in_process_batch16_images_per_s": capacity,
            "floor_ms": floor,
            "p99_ms": p99,
            "p99_over_floor": p99 / floor,
        },
        "open_loop": {
            **open_loop,
            "load_fraction": OPEN_LOAD,
            "in_process_batch16_images_per_s": capacity,
            "p50_ms_1_client": p50_single,
            "p99_over_p50_1": open_loop["p99_ms"] / p50_single,
        },
        "web16_rounds_images_per_s": web,
        "in_process_batch16_rounds_images_per_s": local,
        "batch_sizes_16_clients": dict(sorted(sizes.items(), key=lambda kv: int(kv[0]))),
        "mean_batch_size_16_clients": sum(int(k) * n for k, n in sizes.items()) / max(1, sum(sizes.values())),
        "server_flags": list(flags),
    }
    log(f"web batching: {json.dumps(result)}")
    return result


def summary(r: dict) -> str:
    """web_batching()'s numbers as lines of text (results without issue 27's loops too)."""
    rates = r["web_images_per_s"]
    lines = [
        f"web img/s at 1/4/16 clients: {rates['1']:.1f} / {rates['4']:.1f} / {rates['16']:.1f}",
        f"in-process LocalModel.predict at batch 16: {r['in_process_batch16_images_per_s']:.1f} img/s",
        f"web16 / in-process16: {r['web16_vs_in_process16']:.2f} (goal >= 0.8)",
        f"p50 at 1 client: {r['p50_ms_1_client']:.1f} ms; at 16 clients p50 {r['p50_ms_16_clients']:.1f} ms, "
        f"p99 {r['p99_ms_16_clients']:.1f} ms = {r['p99_16_over_p50_1']:.1f} x the 1-client p50",
    ]
    closed, open_ = r.get("closed_loop_16"), r.get("open_loop")
    if closed:
        lines.append(
            f"closed loop, {closed['clients']} clients ({closed['requests']} requests): p99 {closed['p99_ms']:.0f} ms "
            f"= {closed['p99_over_floor']:.2f} x the Little's-law floor {closed['floor_ms']:.0f} ms "
            f"({closed['clients']} / {closed['in_process_batch16_images_per_s']:.1f} img/s in-process) (goal <= 2)"
        )
    else:
        lines.append(
            f"  (at 16 clients no server can average under {r['latency_floor_ms_16_clients']:.0f} ms: "
            "16 / the in-process rate)"
        )
    if open_:
        o = open_
        errors = f", {sum(o['errors'].values())} not 200: {o['errors']}" if o["errors"] else ""
        lines.append(
            f"open loop, Poisson arrivals at {o['load_fraction']:.0%} of {o['in_process_batch16_images_per_s']:.1f}"
            f" img/s = {o['offered_rate_per_s']:.1f}/s (drawn {o['sampled_rate_per_s']:.1f}/s), "
            f"{o['requests']} requests in {o['seconds']:.1f} s: p50 {o['p50_ms']:.1f} ms, "
            f"p99 {o['p99_ms']:.1f} ms = {o['p99_over_p50_1']:.2f} x the 1-client p50 {o['p50_ms_1_client']:.1f} ms "
            f"(goal <= 3){errors}; client lag at most {o['max_client_lag_ms']:.1f} ms"
        )
    lines += [
        "rounds at 16, img/s: in-process "
        + ", ".join(f"{x:.1f}" for x in r["in_process_batch16_rounds_images_per_s"])
        + "; web "
        + ", ".join(f"{x:.1f}" for x in r["web16_rounds_images_per_s"]),
        f"batch sizes at 16 clients (images: calls): {r['batch_sizes_16_clients']}",
    ]
    return "\n".join(lines)


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
