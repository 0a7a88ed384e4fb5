"""The web app's own checks through its HTTP API (FastAPI's TestClient), both ways (one at a time
and micro-batched), against a stand-in client (tests/support/web_app.py: fixed scores, the
serving graph's decode): 400/413/415 with a JSON reason, a truncated JPEG, a wrong content type
and malformed multipart, uploads kept in memory, the upload-limit flags, a 20-MB phone photo
over the limit, HEIC. What needs the real pushed model is tests/e2e/test_web.py.
"""

from __future__ import annotations

import io
import tempfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tastebud.web.app import create_app
from tastebud.web.uploads import Limits
from tests.support.common import SAMPLE
from tests.support.web_app import APP_MODES, FixedScoresClient, app_client, serve_limits


@pytest.fixture(scope="module")
def fake_client() -> FixedScoresClient:
    return FixedScoresClient(sorted(p.name for p in SAMPLE.iterdir() if p.is_dir()))


@pytest.fixture(scope="module", params=APP_MODES)
def web(fake_client, request):
    return app_client(fake_client, request.param, Limits(max_file_bytes=3 * 1024 * 1024, max_files=3))


@pytest.fixture(scope="module")
def photo() -> tuple[str, bytes]:
    """(label, bytes) of the sample's first photo."""
    path = sorted(SAMPLE.glob("*/*.jpg"))[0]
    return path.parent.name, path.read_bytes()


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


def test_uploads_stay_in_memory(fake_client, photo, monkeypatch):
    """A 2.5 MB upload (past Starlette's 1 MB default spool) must never roll over to a temp file."""

    def no_disk(self):
        raise AssertionError("upload spooled to disk")

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", no_disk)
    web = TestClient(create_app(fake_client, Limits(max_file_bytes=4 * 1024 * 1024)))
    big = _noise_png(950, 900)
    assert len(big) > 2 * 1024 * 1024
    response = web.post("/predict", files=[("files", ("big.png", big, "image/png"))])
    assert response.status_code == 200, response.text


def test_upload_limit_flag_defaults_fit_a_20_mb_phone_photo_and_the_request_fits_the_file():
    default = serve_limits()
    assert default.max_file_bytes >= 20 * 1024 * 1024
    assert default.max_request_bytes > default.max_file_bytes
    raised = serve_limits("--max-file-mb", "100", "--max-request-mb", "10")
    assert raised.max_file_bytes == 100 * 1024 * 1024
    assert raised.max_request_bytes > raised.max_file_bytes  # a request can always carry one largest file
    assert serve_limits("--max-file-mb", "5").max_file_bytes == 5 * 1024 * 1024


@pytest.fixture(scope="module")
def twenty_mb_photo(photo) -> bytes:
    """A JPEG as big as a 48-MP phone photo (20 MB), made cheaply: the sample photo followed by
    zeros, which decoders ignore after its end marker. The size check refuses it undecoded; the
    real 48-MP photo, labelled by the real model, is tests/e2e/test_web.py."""
    return photo[1] + bytes(20 * 1024 * 1024 - len(photo[1]))


def test_a_photo_over_the_flag_limit_is_refused_with_413(fake_client, twenty_mb_photo):
    web = TestClient(create_app(fake_client, serve_limits("--max-file-mb", "16")))
    response = web.post("/predict", files=[("files", ("phone.jpg", twenty_mb_photo, "image/jpeg"))])
    assert response.status_code == 413 and "exceeds the limit" in response.json()["error"]


def test_a_heic_upload_gets_415_naming_heic_and_what_to_do(web):
    from tests.support.phone_photos import HEIC_HEAD

    response = web.post("/predict", files=[("files", ("IMG_0001.HEIC", HEIC_HEAD, "image/heic"))])
    assert response.status_code == 415, response.text
    reason = response.json()["error"].removeprefix("IMG_0001.HEIC: ")  # the file name would name HEIC anyway
    assert "HEIC" in reason and "image/jpeg" in reason  # names the format and what the page accepts
    assert "HEIC photo (iPhone's default)" in reason and "export as JPEG" in reason  # and what to do
