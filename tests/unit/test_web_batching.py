"""Micro-batching in `tastebud serve --model` (tastebud/web/batching.py).

The batcher alone with a fake model, and the web app on it: a full queue answers 503 and a
request past its deadline 504; TF Serving's batching parameters file. The web app on the real
pushed model is tests/e2e/test_web_batching.py. No assertion depends on how fast anything
runs: batches are made to close by filling up, and the long batch timeouts only bound how
long a test waits for them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tastebud.inference import Prediction
from tastebud.web.app import create_app
from tastebud.web.batching import BatchingParams, DeadlineExceeded, ImageFailed, MicroBatcher, QueueFull

WAIT_S = 30  # the longest any test waits for a thread to reach a point (never hit when all is well)


class FakeModel:
    """A model that labels each image with its own bytes, records its calls, and can be held
    (a call waits for `release`: every call with hold=True, or only calls holding the image
    `hold` when it is bytes) or fail on images equal to b"bad"."""

    def __init__(self, hold: bool | bytes = False):
        self.calls: list[list[bytes]] = []
        self.hold = hold
        self.called, self.release = threading.Event(), threading.Event()

    def predict(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        self.calls.append(list(images))
        self.called.set()
        if self.hold is True or self.hold in images:
            assert self.release.wait(3 * WAIT_S)  # longer than any test waits for anything else
        if b"bad" in images:
            raise ValueError("cannot decode b'bad'")
        labels = [i[:16].decode("latin-1") for i in images]
        return "7", [Prediction(k, label, 1.0, {label: 1.0}) for label, k in zip(labels, keys, strict=True)]

    def version(self) -> str:
        return "7"


def _wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the batcher"
        time.sleep(0.01)


async def _gather(batcher: MicroBatcher, requests: list[list[bytes]]) -> list:
    calls = [batcher.predict(images, [f"k{j}" for j in range(len(images))]) for images in requests]
    return await asyncio.gather(*calls, return_exceptions=True)


# ---- the batcher alone ----------------------------------------------------------------------


def test_concurrent_requests_share_one_model_call_and_get_their_own_answers():
    model = FakeModel()
    batcher = MicroBatcher(model.predict, BatchingParams(max_batch_size=8, batch_timeout_ms=WAIT_S * 1000))
    requests = [[f"img{i}".encode()] for i in range(6)] + [[b"a", b"b"]]  # 8 images: the batch closes full
    results = asyncio.run(_gather(batcher, requests))
    assert [[p.label for p in predictions] for _, predictions in results] == [[i.decode() for i in r] for r in requests]
    assert all(version == "7" for version, _ in results)
    assert len(model.calls) == 1 and len(model.calls[0]) == 8
    stats = batcher.stats()
    assert stats["batch_sizes"] == {"8": 1} and stats["model_calls"] == 1 and stats["requests"] == 7
    batcher.close()


def test_a_request_arriving_within_the_batch_timeout_joins_the_batch():
    model = FakeModel()
    batcher = MicroBatcher(model.predict, BatchingParams(max_batch_size=2, batch_timeout_ms=WAIT_S * 1000))
    early = batcher.submit([b"early"], ["k"])
    _wait_until(lambda: batcher.stats()["queued_images"] == 0)  # a batch thread holds it, waiting for mates
    time.sleep(0.05)
    late = batcher.submit([b"late"], ["k"])
    assert [f.result(WAIT_S)[1][0].label for f in (early.future, late.future)] == ["early", "late"]
    assert model.calls == [[b"early", b"late"]]  # one call: it closed when full, not before
    batcher.close()


def test_batches_never_pass_the_max_size_and_never_split_a_request():
    model = FakeModel()
    batcher = MicroBatcher(model.predict, BatchingParams(max_batch_size=4, batch_timeout_ms=0))
    requests = [[b"1", b"2", b"3"], [b"4", b"5"], [b"6"], [b"a", b"b", b"c", b"d", b"e", b"f"]]  # the last: alone
    results = asyncio.run(_gather(batcher, requests))
    assert [[p.label for p in r[1]] for r in results] == [[i.decode() for i in r] for r in requests]
    assert all(len(call) <= 4 or call == requests[3] for call in model.calls)
    flat = [tuple(call) for call in model.calls]
    for request in requests:  # every request's images are contiguous inside one call
        assert any(tuple(request) == call[i : i + len(request)] for call in flat for i in range(len(call)))
    batcher.close()


def test_a_bad_image_fails_only_its_own_request():
    model = FakeModel()
    batcher = MicroBatcher(model.predict, BatchingParams(max_batch_size=8, batch_timeout_ms=WAIT_S * 1000))
    requests = [[b"g0"], [b"g1"], [b"bad"], [b"g3"], [b"x", b"bad", b"y"], [b"g5"]]  # 8 images
    results = asyncio.run(_gather(batcher, requests))
    assert isinstance(results[2], ImageFailed) and results[2].index == 0
    assert isinstance(results[4], ImageFailed) and results[4].index == 1  # names the second file
    assert "cannot decode" in str(results[4].error)
    for i in (0, 1, 3, 5):
        assert [p.label for p in results[i][1]] == [requests[i][0].decode()]
    assert len(model.calls[0]) == 8  # they were in one batch, which failed...
    stats = batcher.stats()
    assert stats["isolation_calls"] > 0 and stats["failed_requests"] == 2  # ...and was taken apart
    batcher.close()


def test_a_full_queue_refuses_at_once_and_recovers():
    model = FakeModel(hold=True)
    params = BatchingParams(max_batch_size=2, batch_timeout_ms=0, max_enqueued_batches=1)  # 2 images may wait

    async def scenario():
        first = asyncio.ensure_future(batcher.predict([b"r0"], ["k"]))
        await asyncio.to_thread(model.called.wait, WAIT_S)  # r0 is in the model, the queue is empty
        queued = [asyncio.ensure_future(batcher.predict([i], ["k"])) for i in (b"q1", b"q2")]
        await asyncio.sleep(0)  # let both enqueue
        with pytest.raises(QueueFull, match="2 images are waiting"):
            await batcher.predict([b"q3"], ["k"])
        model.release.set()
        return await asyncio.gather(first, *queued)

    batcher = MicroBatcher(model.predict, params)
    results = asyncio.run(scenario())
    assert [r[1][0].label for r in results] == ["r0", "q1", "q2"]
    assert batcher.stats()["rejected_queue_full"] == 1
    assert asyncio.run(batcher.predict([b"after"], ["k"]))[1][0].label == "after"
    batcher.close()


def test_an_empty_queue_takes_a_request_bigger_than_the_bound():
    batcher = MicroBatcher(FakeModel().predict, BatchingParams(max_batch_size=1, max_enqueued_batches=1))
    version, predictions = asyncio.run(batcher.predict([b"a", b"b", b"c"], ["1", "2", "3"]))
    assert [p.label for p in predictions] == ["a", "b", "c"]
    batcher.close()


def test_a_slow_model_call_gives_a_deadline_error_and_frees_the_queue():
    model = FakeModel(hold=True)
    batcher = MicroBatcher(model.predict, BatchingParams(max_batch_size=1, batch_timeout_ms=0, request_timeout_s=0.2))
    results = asyncio.run(_gather(batcher, [[b"slow"], [b"queued"]]))
    assert all(isinstance(r, DeadlineExceeded) for r in results), results
    assert "no answer within 0.2 s" in str(results[0])
    _wait_until(lambda: batcher.stats()["queued_images"] == 0)  # the queued one left the queue
    model.release.set()
    assert asyncio.run(batcher.predict([b"next"], ["k"]))[1][0].label == "next"
    assert [c for c in model.calls if c == [b"queued"]] == []  # never sent to the model
    assert batcher.stats()["timed_out"] == 2
    batcher.close()


def test_with_two_batch_threads_a_slow_batch_does_not_hold_up_the_next():
    model = FakeModel(hold=b"slow")
    batcher = MicroBatcher(model.predict, BatchingParams(max_batch_size=1, batch_timeout_ms=0, num_batch_threads=2))
    slow = batcher.submit([b"slow"], ["k"])
    assert model.called.wait(WAIT_S)  # one batch thread is stuck in the slow call
    assert batcher.submit([b"quick"], ["k"]).future.result(WAIT_S)[1][0].label == "quick"  # the other answers
    assert not slow.future.done()
    model.release.set()
    assert slow.future.result(WAIT_S)[1][0].label == "slow"
    batcher.close()


@pytest.mark.parametrize(
    "params",
    [dict(max_batch_size=0), dict(max_enqueued_batches=0), dict(batch_timeout_ms=-1), dict(request_timeout_s=0)],
)
def test_bad_parameters_are_refused(params):
    with pytest.raises(ValueError):
        BatchingParams(**params)


def test_serve_flags_reach_the_batching_params():
    import argparse

    from tastebud import serve_cli

    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    defaults = serve_cli.batching_params(parser.parse_args(["--model", "m"]))
    assert defaults == BatchingParams()
    flags = ["--max-batch-size", "8", "--batch-timeout-ms", "5", "--max-enqueued-batches", "2"]
    flags += ["--num-batch-threads", "2", "--request-timeout-s", "9"]
    set_ = serve_cli.batching_params(parser.parse_args(["--model", "m", *flags]))
    assert set_ == BatchingParams(8, 5.0, 2, 2, 9.0)


def test_a_decode_error_from_the_serving_graph_reads_like_the_full_checks():
    import tensorflow as tf

    from data.validate import decode_failure

    graph_error = tf.errors.InvalidArgumentError(
        None,
        None,
        "Graph execution error:\n\nDetected at node cond/map/while/DecodeJpeg defined at (most recent call last):\n"
        "<stack traces unavailable>\njpeg::Uncompress failed. Invalid JPEG data or crop window.\n"
        "\t [[{{node cond/map/while/DecodeJpeg}}]] [Op:__inference_signature_wrapper_19272]",
    )
    eager_error = tf.errors.InvalidArgumentError(
        None,
        None,
        "{{function_node __wrapped__DecodeImage}} jpeg::Uncompress failed. Invalid JPEG data or crop window. "
        "[Op:DecodeImage] name: ",
    )
    expected = "corrupt or truncated JPEG: jpeg::Uncompress failed. Invalid JPEG data or crop window"
    assert decode_failure("JPEG", graph_error) == decode_failure("JPEG", eager_error) == expected


# ---- the web app: 503 and 504 with a held fake model ------------------------------------------


def _post(web: TestClient, name: str, data: bytes):
    return web.post("/predict", files=[("files", (name, data, "image/jpeg"))])


def test_web_answers_503_when_the_queue_is_full_and_504_past_the_deadline(tiny_jpeg):
    model = FakeModel(hold=True)
    params = BatchingParams(max_batch_size=1, batch_timeout_ms=0, max_enqueued_batches=1, request_timeout_s=WAIT_S)
    app = create_app(model, batching=params)
    with TestClient(app) as web, ThreadPoolExecutor(2) as pool:
        running = pool.submit(_post, web, "a.jpg", tiny_jpeg)
        assert model.called.wait(WAIT_S)
        queued = pool.submit(_post, web, "b.jpg", tiny_jpeg)
        _wait_until(lambda: web.get("/stats").json()["batching"]["queued_images"] == 1)
        full = _post(web, "c.jpg", tiny_jpeg)
        assert full.status_code == 503 and full.headers["Retry-After"] == "1"
        assert "server busy" in full.json()["error"]
        model.release.set()
        assert running.result().status_code == 200 and queued.result().status_code == 200
    held = FakeModel(hold=True)
    quick = BatchingParams(max_batch_size=1, request_timeout_s=0.2)
    response = _post(TestClient(create_app(held, batching=quick)), "slow.jpg", tiny_jpeg)
    held.release.set()
    assert response.status_code == 504 and "no answer within 0.2 s" in response.json()["error"]


@pytest.fixture(scope="module")
def tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


# ---- TF Serving's own batching: the parameters file and docker-compose.yml ---------------------


def test_tf_serving_batching_parameters_file_is_mounted_and_enabled():
    import re

    import yaml

    from tastebud.clients import DEFAULT_BATCH_SIZE
    from tests.support.common import REPO

    text = (REPO / "batching_parameters.txt").read_text()
    fields = dict(re.findall(r"^(\w+) \{ value: (\d+) \}$", text, flags=re.MULTILINE))
    assert set(fields) == {"max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads"}
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == len(fields), lines  # nothing else that TF Serving's text-proto parser would see
    assert int(fields["max_batch_size"]) >= DEFAULT_BATCH_SIZE  # what tastebud's REST/gRPC clients send at most
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["tf-serving"]
    mounted = "/config/batching_parameters.txt"
    assert f"./batching_parameters.txt:{mounted}:ro" in service["volumes"]
    assert service["command"] == ["--enable_batching=true", f"--batching_parameters_file={mounted}"]
