"""The web app's HTTP API (FastAPI's TestClient), on the real pushed model: the version, labels
and scores it answers, a newly pushed version picked up, a 48-MP phone JPEG labelled. Its upload
checks (4xx answers) run against a stand-in client in tests/unit/test_web.py."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from fastapi.testclient import TestClient

from tastebud.clients import LocalClient
from tastebud.web.app import SECURITY_HEADERS, create_app
from tastebud.web.uploads import Limits
from tests.support.pipeline_runs import eval_examples
from tests.support.web_app import APP_MODES, app_client, serve_limits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_client(flowers):
    return LocalClient(flowers["serving"])


@pytest.fixture(scope="module", params=APP_MODES)
def web(local_client, request):
    return app_client(local_client, request.param, Limits(max_file_bytes=3 * 1024 * 1024, max_files=3))


@pytest.fixture(scope="module")
def photo(flowers) -> tuple[str, bytes]:
    _, label, image = eval_examples(flowers["data"])[0]
    return label, image


def test_healthz_reports_the_model_version(web, flowers):
    response = web.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model_version": flowers["latest_version"]}


def test_predict_returns_label_and_scores(web, photo, flowers):
    label, image = photo
    response = web.post(
        "/predict", files=[("files", ("a.jpg", image, "image/jpeg")), ("files", ("b.jpg", image, "image/jpeg"))]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == flowers["latest_version"]
    assert [p["filename"] for p in body["predictions"]] == ["a.jpg", "b.jpg"]
    assert body["predictions"][0]["label"] == label
    assert set(body["predictions"][0]["scores"]) == {"daisy", "dandelion", "roses", "sunflowers", "tulips"}
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_new_pushed_version_is_picked_up_without_dropping_requests(flowers, photo, tmp_path):
    serving = tmp_path / "serving"
    current = flowers["serving"] / flowers["latest_version"]
    shutil.copytree(current, serving / "100")
    client = LocalClient(serving, watch_seconds=0.2)
    web = TestClient(create_app(client))
    failures, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            r = web.post("/predict", files=[("files", ("a.jpg", photo[1], "image/jpeg"))])
            if r.status_code != 200:
                failures.append(r.text)

    worker = threading.Thread(target=hammer)
    worker.start()
    shutil.copytree(current, serving / "200.partial")
    (serving / "200.partial").rename(serving / "200")  # how a pusher makes a version appear atomically
    deadline = time.monotonic() + 60
    while client.version() != "200" and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    worker.join()
    client.close()
    assert client.version() == "200"
    assert web.get("/healthz").json()["model_version"] == "200"
    assert failures == []


# ---- phone photos: a 48-MP JPEG with the default flags ------------------------------------------


@pytest.fixture(scope="module")
def phone_photo(photo) -> bytes:
    from tests.support.phone_photos import open_photo, phone_48mp

    return phone_48mp(open_photo(photo[1]))


def test_a_48_mp_20_mb_phone_jpeg_is_accepted_with_the_default_flags(local_client, phone_photo, photo):
    assert len(phone_photo) >= 20 * 1024 * 1024 and len(phone_photo) <= serve_limits().max_file_bytes
    web = TestClient(create_app(local_client, serve_limits()))
    response = web.post("/predict", files=[("files", ("phone.jpg", phone_photo, "image/jpeg"))])
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["label"] == photo[0]
