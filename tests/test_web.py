"""The web app's HTTP API (FastAPI's TestClient), on the real pushed model."""

from __future__ import annotations

import io
import shutil
import tempfile
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tastebud.clients import LocalClient
from tastebud.web.app import SECURITY_HEADERS, create_app
from tastebud.web.batching import BatchingParams
from tastebud.web.uploads import Limits
from tests.conftest import eval_examples

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_client(flowers):
    return LocalClient(flowers["serving"])


@pytest.fixture(scope="module", params=["one-at-a-time", "batched"])
def web(local_client, request):
    """The app both ways: serialised with the full decode check (`--server`), and micro-batched
    with the header check, the model's decode being the decodability check (`--model`)."""
    batching = BatchingParams() if request.param == "batched" else None
    return TestClient(create_app(local_client, Limits(max_file_bytes=3 * 1024 * 1024, max_files=3), batching))


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


def _noise_png(width: int, height: int) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "files, status, reason",
    [
        ([("files", ("empty.jpg", b"", "image/jpeg"))], 400, "empty file"),
        ([("files", ("notes.jpg", b"hello, I am text", "image/jpeg"))], 415, "not a supported image"),
        (
            [("files", ("page.png", b"<html><script>alert(1)</script></html>", "image/png"))],
            415,
            "not a supported image",
        ),
        ([("files", ("big.png", _noise_png(1100, 1100), "image/png"))], 413, "exceeds the limit"),
        ([("files", (f"{i}.jpg", b"\xff\xd8\xff", "image/jpeg")) for i in range(4)], 413, "Too many files"),
    ],
)
def test_bad_uploads_get_a_4xx_json_reason(web, files, status, reason):
    response = web.post("/predict", files=files)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]


def test_truncated_jpeg_is_rejected_not_crashed(web, photo):
    response = web.post("/predict", files=[("files", ("cut.jpg", photo[1][:2000], "image/jpeg"))])
    assert response.status_code == 400 and "cut.jpg" in response.json()["error"]


def test_wrong_content_type_and_malformed_multipart(web):
    assert web.post("/predict", json={"image": "x"}).status_code == 415
    response = web.post(
        "/predict", content=b"--nope\r\ngarbage", headers={"Content-Type": "multipart/form-data; boundary=zzz"}
    )
    assert response.status_code == 400 and "error" in response.json()
    assert web.get("/healthz").json()["status"] == "ok"  # still serving


def test_uploads_stay_in_memory(local_client, photo, monkeypatch):
    """A 2.5 MB upload (past Starlette's 1 MB default spool) must never roll over to a temp file."""

    def no_disk(self):
        raise AssertionError("upload spooled to disk")

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", no_disk)
    web = TestClient(create_app(local_client, Limits(max_file_bytes=4 * 1024 * 1024)))
    big = _noise_png(950, 900)
    assert len(big) > 2 * 1024 * 1024
    response = web.post("/predict", files=[("files", ("big.png", big, "image/png"))])
    assert response.status_code == 200, response.text


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


# ---- phone photos: the upload limit flag, 48-MP JPEGs, HEIC --------------------------------


def _serve_limits(*flags: str) -> Limits:
    """The Limits `tastebud serve` builds from its flags (defaults when none)."""
    import argparse

    from tastebud import serve_cli

    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    args = parser.parse_args(["--model", "unused", *flags])
    return Limits.from_megabytes(args.max_file_mb, args.max_files, args.max_request_mb)


def test_upload_limit_flag_defaults_fit_a_20_mb_phone_photo_and_the_request_fits_the_file():
    default = _serve_limits()
    assert default.max_file_bytes >= 20 * 1024 * 1024
    assert default.max_request_bytes > default.max_file_bytes
    raised = _serve_limits("--max-file-mb", "100", "--max-request-mb", "10")
    assert raised.max_file_bytes == 100 * 1024 * 1024
    assert raised.max_request_bytes > raised.max_file_bytes  # a request can always carry one largest file
    assert _serve_limits("--max-file-mb", "5").max_file_bytes == 5 * 1024 * 1024


@pytest.fixture(scope="module")
def phone_photo(photo) -> bytes:
    from tests.phone_photos import open_photo, phone_48mp

    return phone_48mp(open_photo(photo[1]))


def test_a_48_mp_20_mb_phone_jpeg_is_accepted_with_the_default_flags(local_client, phone_photo, photo):
    assert len(phone_photo) >= 20 * 1024 * 1024 and len(phone_photo) <= _serve_limits().max_file_bytes
    web = TestClient(create_app(local_client, _serve_limits()))
    response = web.post("/predict", files=[("files", ("phone.jpg", phone_photo, "image/jpeg"))])
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["label"] == photo[0]


def test_a_photo_over_the_flag_limit_is_refused_with_413(local_client, phone_photo):
    web = TestClient(create_app(local_client, _serve_limits("--max-file-mb", "16")))
    response = web.post("/predict", files=[("files", ("phone.jpg", phone_photo, "image/jpeg"))])
    assert response.status_code == 413 and "exceeds the limit" in response.json()["error"]


def test_a_heic_upload_gets_415_naming_heic_and_what_to_do(web):
    from tests.phone_photos import HEIC_HEAD

    response = web.post("/predict", files=[("files", ("IMG_0001.HEIC", HEIC_HEAD, "image/heic"))])
    assert response.status_code == 415, response.text
    reason = response.json()["error"].removeprefix("IMG_0001.HEIC: ")  # the file name would name HEIC anyway
    assert "HEIC" in reason and "image/jpeg" in reason  # names the format and what the page accepts
    assert "HEIC photo (iPhone's default)" in reason and "export as JPEG" in reason  # and what to do
