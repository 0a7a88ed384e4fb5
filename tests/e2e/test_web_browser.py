"""The upload page in a real browser: Debian's headless Chromium driven by Playwright.

The server is the real app under uvicorn on loopback, backed by the pushed model.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import uvicorn
from playwright.sync_api import expect

from tastebud.clients import LocalClient
from tastebud.web.app import create_app
from tastebud.web.batching import BatchingParams
from tests.support.common import PHONE
from tests.support.pipeline_runs import eval_examples

pytestmark = pytest.mark.slow
EVIL_NAME = '"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">.jpg'


@pytest.fixture(scope="module")
def server_url(flowers):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(LocalClient(flowers["serving"]), batching=BatchingParams())  # as `tastebud serve --model`
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def page(browser):
    return browser.new_page(viewport={"width": 1000, "height": 900})


def test_upload_a_photo_and_read_the_label(server_url, page, flowers, artifacts_dir):
    (_, label, image), (_, label2, image2) = eval_examples(flowers["data"])[4], eval_examples(flowers["data"])[8]
    _open(page, server_url)
    assert page.inner_text("#model-version") == flowers["latest_version"]
    page.set_input_files(
        "#files",
        files=[
            {"name": f"{label}.jpg", "mimeType": "image/jpeg", "buffer": image},
            {"name": EVIL_NAME, "mimeType": "image/jpeg", "buffer": image2},
        ],
    )
    page.wait_for_selector(".card .bar", timeout=60_000)
    cards = page.query_selector_all(".card")
    shown = {c.query_selector(".filename").inner_text(): c.query_selector(".label").inner_text() for c in cards}
    assert shown[f"{label}.jpg"] == label
    assert shown[EVIL_NAME] == label2  # the name is shown as text...
    assert page.evaluate("window.pwned") is None  # ...and never run
    assert len(cards[0].query_selector_all(".bar")) == 5
    assert "answered by model version" in page.inner_text("#status")
    page.screenshot(path=str(artifacts_dir / "web_upload.png"), full_page=True)


def _open(page, server_url) -> None:
    """Opens the page and waits for the model version. Playwright's locator assertions, not
    wait_for_function: a string predicate that has to poll is evaluated with eval(), which the
    page's Content-Security-Policy forbids (it failed whenever the version came back slowly)."""
    page.goto(server_url)
    expect(page.locator("#model-version")).not_to_have_text("loading…", timeout=30_000)


def test_the_page_fits_a_phone_screen(server_url, phone, flowers, artifacts_dir):
    """390 x 844: file picker, result card and score bars readable with no sideways scrolling."""
    _, label, image = eval_examples(flowers["data"])[4]
    _open(phone, server_url)
    long_name = "IMG_20260101_120000_portrait_mode_" + "x" * 40 + ".jpg"
    phone.set_input_files("#files", files=[{"name": long_name, "mimeType": "image/jpeg", "buffer": image}])
    phone.wait_for_selector(".card .bar", timeout=60_000)
    assert phone.inner_text(".card .label") == label
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    for selector in ("#drop", "#files", ".card", ".preview", ".filename", ".bar", ".bar .track", ".bar span"):
        for element in phone.query_selector_all(selector):
            box = element.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
    tracks = [t.bounding_box()["width"] for t in phone.query_selector_all(".bar .track")]
    assert len(tracks) == 5 and min(tracks) >= 48  # the bars themselves are visible, not squeezed away
    font_sizes = "els => els.map(e => getComputedStyle(e).fontSize)"
    sizes = phone.eval_on_selector_all(".bar span, .filename, #drop", font_sizes)
    assert min(float(s.rstrip("px")) for s in sizes) >= 12  # readable text
    phone.screenshot(path=str(artifacts_dir / "web_phone.png"), full_page=True)


def test_large_uploads_show_progress(server_url, page, flowers):
    """A 12-MP photo sent over a link throttled to 2 MB/s: the page shows how much has gone."""
    from tests.support.phone_photos import big_jpeg, open_photo

    _, label, image = eval_examples(flowers["data"])[4]
    big = big_jpeg(open_photo(image), 4032, 3024, quality=95, grain=6)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    throttle = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2 * 1024 * 1024}
    _open(page, server_url)
    cdp.send("Network.emulateNetworkConditions", throttle)
    page.set_input_files("#files", files=[{"name": "phone.jpg", "mimeType": "image/jpeg", "buffer": big}])
    page.wait_for_selector("#progress:not([hidden])", timeout=10_000)
    shows_progress = re.compile(r"uploading [0-9.]+ of [0-9.]+ MB \([0-9]+%\)")
    expect(page.locator("#status")).to_have_text(shows_progress, timeout=30_000)
    page.wait_for_selector(".card .bar", timeout=60_000)
    assert page.inner_text(".card .label") == label
    assert page.is_hidden("#progress")
