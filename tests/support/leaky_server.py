"""`tastebud serve` with a deliberate memory leak, for the load test's own test.

    python -m tests.support.leaky_server --model DIR --port PORT [other `tastebud serve` flags]

It is the real server (the same CLI, app, batcher and model) with one change: every
POST /predict keeps a decoded photo of the model's input size, 224 x 224 RGB (147 kB),
in a list that is never freed. tests/e2e/test_stress.py runs its memory check against it and
requires the check to fail, so a check that cannot see a leak of that size cannot pass.
"""

from __future__ import annotations

import sys

import numpy as np

import tastebud.web.app as web_app
from tastebud import cli

LEAK_BYTES = 224 * 224 * 3  # one decoded photo at the model's input size, uint8 RGB
KEPT: list[np.ndarray] = []


class KeepOnePhotoPerRequest:
    """ASGI middleware: each /predict request leaves one decoded-photo-sized array behind
    (written with ones, so its pages are really resident)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/predict":
            KEPT.append(np.ones(LEAK_BYTES, np.uint8))
        await self.app(scope, receive, send)


def _leaky_create_app(*args, **kwargs):
    return KeepOnePhotoPerRequest(_create_app(*args, **kwargs))


_create_app = web_app.create_app

if __name__ == "__main__":
    web_app.create_app = _leaky_create_app  # serve_cli.run imports it from the module at call time
    sys.exit(cli.main(["serve", *sys.argv[1:]]))
