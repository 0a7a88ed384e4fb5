"""Paths and constants the tests share, and a free port for a server a test starts."""

from __future__ import annotations

import os
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "flowers_small"
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and reports kept from test runs
MODEL_NAME = "tastebud"
# Debian's headless Chromium, driven by Playwright (the browser tests)
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
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
