"""The web app's test helpers: a stand-in prediction client, the app both ways, and the upload
Limits `tastebud serve` builds from its flags."""

from __future__ import annotations

import argparse

from fastapi.testclient import TestClient

from tastebud.inference import Prediction
from tastebud.web.app import create_app
from tastebud.web.batching import BatchingParams
from tastebud.web.uploads import Limits

APP_MODES = ["one-at-a-time", "batched"]


class FixedScoresClient:
    """A stand-in for a real model behind tastebud.clients.PredictionClient, for tests of the web
    app's own checks (uploads, limits, errors), which do not depend on what the model answers.

    Every image gets the same scores over the labels it was given (the first label highest; they
    sum to 1), from model version `version`. Each image is first decoded by the serving graph's
    own decode (preprocessing/images.py), so an image the real model cannot decode fails here
    too, with TensorFlow's error: the batched app relies on that as its decodability check.
    """

    def __init__(self, labels: list[str], version: str = "1", input_size: int = 224):
        weights = list(range(len(labels), 0, -1))
        self.scores = {label: w / sum(weights) for label, w in zip(labels, weights, strict=True)}
        self._version, self.input_size = version, input_size

    def version(self) -> str:
        return self._version

    def predict(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        import tensorflow as tf

        from preprocessing.images import decode_upright

        for image in images:
            decode_upright(tf.constant(image), self.input_size)  # raises on what the model cannot decode
        label = next(iter(self.scores))
        return self._version, [Prediction(key, label, self.scores[label], dict(self.scores)) for key in keys]


def app_client(client, mode: str, limits: Limits | None = None) -> TestClient:
    """The app on `client`, one of APP_MODES: serialised with the full decode check (`--server`),
    or micro-batched with the header check, the model's decode being the decodability check (`--model`)."""
    batching = BatchingParams() if mode == "batched" else None
    return TestClient(create_app(client, limits, batching))


def serve_limits(*flags: str) -> Limits:
    """The Limits `tastebud serve` builds from its flags (defaults when none)."""
    from tastebud import serve_cli

    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    args = parser.parse_args(["--model", "unused", *flags])
    return Limits.from_megabytes(args.max_file_mb, args.max_files, args.max_request_mb)
