"""The upload page in a real browser: Debian's headless Chromium driven by Playwright.

The server is the real app under uvicorn on loopback, backed by the pushed model.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
import uvicorn

from tastebud.clients import LocalClient
from tastebud.web.app import create_app
from tests.conftest import eval_examples

pytestmark = pytest.mark.slow
CHROMIUM = os.environ.get("TASTEBUD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL_NAME = '"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">.jpg'


@pytest.fixture(scope="module")
def server_url(flowers):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(LocalClient(flowers["serving"])), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; make setup installs Debian's chromium into the environment")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1000, "height": 900})
        browser.close()


def test_upload_a_photo_and_read_the_label(server_url, page, flowers, artifacts_dir):
    (_, label, image), (_, label2, image2) = eval_examples(flowers["data"])[4], eval_examples(flowers["data"])[8]
    page.goto(server_url)
    page.wait_for_function("document.getElementById('model-version').textContent !== 'loading…'")
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
