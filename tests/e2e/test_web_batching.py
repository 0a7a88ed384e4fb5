"""Micro-batching in `tastebud serve --model` (tastebud/web/batching.py), on the real pushed model:
16 concurrent clients get the one-at-a-time answers, a bad photo fails only its own request,
and the model's decode refuses exactly what the full check refuses. No assertion depends on
how fast anything runs: batches are made to close by filling up, and the long batch timeouts
only bound how long a test waits for them. The batcher alone is tests/unit/test_web_batching.py.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tastebud.web.app import create_app
from tastebud.web.batching import BatchingParams

pytestmark = pytest.mark.slow

WAIT_S = 30  # the longest any test waits for a thread to reach a point (never hit when all is well)

CLIENTS = 16


@pytest.fixture(scope="module")
def local_client(flowers):
    from tastebud.clients import LocalClient

    return LocalClient(flowers["serving"], batch_size=CLIENTS)


@pytest.fixture(scope="module")
def photos(flowers) -> list[tuple[str, bytes]]:
    """16 different eval photos (name, bytes): an answer sent to the wrong request would show."""
    from tests.support.pipeline_runs import eval_examples

    examples = eval_examples(flowers["data"])[:CLIENTS]
    assert len(examples) == CLIENTS
    return [(f"photo{i}.jpg", image) for i, (_, _, image) in enumerate(examples)]


def _concurrently(web: TestClient, uploads: list[list[tuple[str, bytes]]]) -> list:
    """Posts every upload at once (a barrier releases the threads together); their responses in order."""
    barrier = threading.Barrier(len(uploads))

    def post(files):
        barrier.wait(WAIT_S)
        return web.post("/predict", files=[("files", (name, data, "image/jpeg")) for name, data in files])

    with ThreadPoolExecutor(len(uploads)) as pool:
        return list(pool.map(post, uploads))


def _assert_same_answers(got: dict, expected: dict) -> None:
    assert got["model_version"] == expected["model_version"]
    assert len(got["predictions"]) == len(expected["predictions"])
    for g, e in zip(got["predictions"], expected["predictions"], strict=True):
        assert (g["filename"], g["key"], g["label"]) == (e["filename"], e["key"], e["label"])
        assert g["score"] == pytest.approx(e["score"], abs=1e-5)
        assert g["scores"].keys() == e["scores"].keys()
        assert all(abs(g["scores"][c] - e["scores"][c]) <= 1e-5 for c in e["scores"])


def test_sixteen_concurrent_clients_get_the_one_at_a_time_answers(local_client, photos):
    one_at_a_time = TestClient(create_app(local_client))  # the serialised path, one request after another
    expected = [one_at_a_time.post("/predict", files=[("files", (n, d, "image/jpeg"))]).json() for n, d in photos]
    params = BatchingParams(max_batch_size=CLIENTS, batch_timeout_ms=WAIT_S * 1000)  # closes when all 16 are in
    with TestClient(create_app(local_client, batching=params)) as web:
        responses = _concurrently(web, [[photo] for photo in photos])
        stats = web.get("/stats").json()["batching"]
    assert [r.status_code for r in responses] == [200] * CLIENTS, [r.text for r in responses]
    for response, want in zip(responses, expected, strict=True):
        _assert_same_answers(response.json(), want)
    assert stats["batch_sizes"] == {str(CLIENTS): 1} and stats["model_calls"] == 1, stats  # one shared call


def test_a_bad_photo_gets_its_400_and_its_batch_mates_their_answers(local_client, photos):
    cut = ("cut.jpg", photos[0][1][: len(photos[0][1]) * 3 // 5])  # its header is whole: passes the header check
    uploads = [[photo] for photo in photos[:5]] + [[cut]] + [[photos[5], cut, photos[6]]] + [[photos[7]]]
    expected = TestClient(create_app(local_client))  # the serialised path with the full decode check
    wanted = [expected.post("/predict", files=[("files", (n, d, "image/jpeg")) for n, d in u]) for u in uploads]
    params = BatchingParams(max_batch_size=10, batch_timeout_ms=WAIT_S * 1000)  # 10 images: closes when all are in
    with TestClient(create_app(local_client, batching=params)) as web:
        responses = _concurrently(web, uploads)
        stats = web.get("/stats").json()["batching"]
    assert stats["batch_sizes"] == {"10": 1}, stats  # all in one batch...
    assert stats["isolation_calls"] > 0 and stats["failed_requests"] == 2  # ...which failed and was taken apart
    for i in (5, 6):
        assert responses[i].status_code == 400 == wanted[i].status_code
        assert responses[i].json() == wanted[i].json()  # the same reason as the full check's
        assert responses[i].json()["error"].startswith("cut.jpg: corrupt or truncated JPEG: ")
    for i in (0, 1, 2, 3, 4, 7):
        assert responses[i].status_code == 200, responses[i].text
        _assert_same_answers(responses[i].json(), wanted[i].json())


def test_the_models_decode_refuses_exactly_what_the_full_check_refuses(local_client, photos):
    """The header check plus the model's decode (the batched path) against prepare's full
    decode check, on damaged photos of every accepted format: the same verdict each time."""
    import io
    import random

    from PIL import Image

    from data.validate import check_header, check_image

    rng = random.Random(0)
    with Image.open(io.BytesIO(photos[0][1])) as im:
        rgb = im.convert("RGB")
    originals = {"JPEG": photos[0][1]}
    for fmt in ("PNG", "GIF", "BMP", "WEBP"):
        buffer = io.BytesIO()
        rgb.save(buffer, format=fmt)
        originals[fmt] = buffer.getvalue()
    damaged = []
    for fmt, data in originals.items():
        damaged += [(f"{fmt} cut at {f}", data[: int(len(data) * f)]) for f in (0.05, 0.5, 0.95, 0.99)]
        for k in range(4):
            flipped = bytearray(data)
            for _ in range(20):
                flipped[rng.randrange(64, len(flipped))] = rng.randrange(256)
            damaged.append((f"{fmt} with 20 bytes changed #{k}", bytes(flipped)))
    differ = []
    for name, data in damaged:
        try:
            model_ok = check_header(data).ok and bool(local_client.predict([data], ["k"]))
        except Exception:  # the model's decode refused it
            model_ok = False
        if model_ok != check_image(data).ok:
            differ.append(name)
    assert differ == []
    assert sum(not check_image(d).ok for _, d in damaged) >= len(damaged) // 2  # mostly refused: the test bites
