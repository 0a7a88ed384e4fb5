"""Ways to ask a model about images: in-process, TF Serving REST, TF Serving gRPC.

All three take encoded image bytes plus keys and return `Prediction`s, sending many
images in batches. The model version that answered is reported with the result.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from preprocessing.contract import IMAGE_INPUT, KEY_INPUT, SERVING_SIGNATURE
from tastebud import requests_format as fmt
from tastebud.inference import LocalModel, Prediction, latest_version, rows_to_predictions

DEFAULT_BATCH_SIZE = 32


class ServerError(RuntimeError):
    """The server answered with an error, or could not be reached."""


class PredictionClient(Protocol):
    def predict(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]: ...

    def version(self) -> str: ...


def _batched(call, images: list[bytes], keys: list[str], batch_size: int) -> tuple[str, list[Prediction]]:
    version, predictions = "", []
    for image_batch, key_batch in zip(fmt.batches(images, batch_size), fmt.batches(keys, batch_size), strict=True):
        version, batch = call(image_batch, key_batch)
        predictions.extend(batch)
    return version, predictions


class LocalClient:
    """The pushed SavedModel, in this process. Watches the serving dir for new versions.

    A watcher thread loads a newer version in the background and then swaps it in;
    requests already running finish on the model they started with, so none is dropped.
    """

    def __init__(self, serving_dir: str | Path, batch_size: int = DEFAULT_BATCH_SIZE, watch_seconds: float = 0):
        self.serving_dir, self.batch_size = Path(serving_dir), batch_size
        self._model = LocalModel(serving_dir)
        self._stop = threading.Event()
        if watch_seconds > 0:
            threading.Thread(target=self._watch, args=(watch_seconds,), daemon=True, name="model-watcher").start()

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                newest = latest_version(self.serving_dir)
                if newest != self._model.path:
                    self._model = LocalModel(newest)  # a reference swap: atomic for readers
            except Exception:  # a half-written version: try again on the next tick
                continue

    def close(self) -> None:
        self._stop.set()

    def version(self) -> str:
        return self._model.version

    def predict(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        model = self._model  # one model for the whole request
        return _batched(lambda i, k: (model.version, model.predict(i, k)), images, keys, self.batch_size)


class RestClient:
    """TF Serving's REST API: POST /v1/models/<name>:predict, GET /v1/models/<name>."""

    def __init__(self, server: str, model_name: str, batch_size: int = DEFAULT_BATCH_SIZE, timeout: float = 60):
        self.base = f"http://{server}/v1/models/{model_name}"
        self.batch_size, self.timeout = batch_size, timeout

    def _call(self, url: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:500]
            raise ServerError(f"{url} answered {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise ServerError(f"cannot reach TF Serving at {url}: {e}") from None

    def version(self) -> str:
        status = self._call(self.base).get("model_version_status", [])
        available = [int(s["version"]) for s in status if s.get("state") == "AVAILABLE"]
        return str(max(available)) if available else ""

    def _predict_batch(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        rows = self._call(f"{self.base}:predict", fmt.rest_request(images, keys))["predictions"]
        return "", rows_to_predictions(fmt.columns_from_rows(rows), len(rows))

    def predict(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        _, predictions = _batched(self._predict_batch, images, keys, self.batch_size)
        return self.version(), predictions


class GrpcClient:
    """TF Serving's gRPC PredictionService.Predict (tensorflow-serving-api's stubs)."""

    def __init__(self, server: str, model_name: str, batch_size: int = DEFAULT_BATCH_SIZE, timeout: float = 60):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.model_name, self.batch_size, self.timeout = model_name, batch_size, timeout
        self._channel = grpc.insecure_channel(
            server, options=[("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._last_version = ""

    def _predict_batch(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = SERVING_SIGNATURE
        request.inputs[IMAGE_INPUT].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
        request.inputs[KEY_INPUT].CopyFrom(tf.make_tensor_proto(keys, dtype=tf.string))
        try:
            response = self._stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise ServerError(f"TF Serving gRPC Predict failed: {e.code().name}: {e.details()}") from None
        outputs = {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
        self._last_version = str(response.model_spec.version.value) if response.model_spec.HasField("version") else ""
        return self._last_version, rows_to_predictions(outputs, len(images))

    def version(self) -> str:
        return self._last_version

    def predict(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        return _batched(self._predict_batch, images, keys, self.batch_size)


def make_client(model: str | None, server: str | None, grpc: bool, model_name: str, **kwargs) -> PredictionClient:
    if bool(model) == bool(server):
        raise ValueError("give exactly one of --model SERVING_DIR or --server HOST:PORT")
    if model and model.endswith(".tflite"):  # the phone model, in LiteRT's interpreter
        from tastebud.tflite_model import TFLiteClient

        return TFLiteClient(model)
    if model:
        return LocalClient(model, **kwargs)
    return GrpcClient(server, model_name) if grpc else RestClient(server, model_name)
