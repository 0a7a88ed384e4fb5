"""A stand-in for tensorflow_model_server, for tests: its REST and gRPC protocols,
backed by a real SavedModel.

TF Serving's server binary cannot be installed on these machines (no registry ships
it). This speaks the same wire protocols, so the clients are tested up to that
boundary:
  gRPC  tensorflow_serving.apis PredictionService/Predict, via the generated servicer
        base class; answers with the model_spec (name, version, signature) it used.
  REST  POST /v1/models/<name>[/versions/<v>]:predict with "instances" (row format,
        {"b64": ...} for binary) or "inputs" (columnar); GET /v1/models/<name> status;
        errors as {"error": "..."} with 400/404, as TF Serving does.
Both serve the newest version under <base>/<version>/, TF Serving's default policy.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


class ServedModel:
    def __init__(self, name: str, base_path: Path):
        versions = sorted((p for p in base_path.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        self.name, self.version = name, int(versions[-1].name)
        self.loaded = tf.saved_model.load(str(versions[-1]))

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if signature_name not in self.loaded.signatures:
            raise KeyError(f'Serving signature name: "{signature_name}" not found in signature def')
        fn = self.loaded.signatures[signature_name]
        expected = set(fn.structured_input_signature[1])
        if set(inputs) != expected:
            raise ValueError(f"input keys {sorted(inputs)} do not match the signature's {sorted(expected)}")
        return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model: ServedModel):
        self.model = model

    def Predict(self, request: predict_pb2.PredictRequest, context) -> predict_pb2.PredictResponse:
        if request.model_spec.name != self.model.name:
            context.abort(
                grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({request.model_spec.name})"
            )
        signature = request.model_spec.signature_name or "serving_default"
        try:
            outputs = self.model.run(signature, {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
        except (KeyError, ValueError, tf.errors.InvalidArgumentError) as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.model.name
        response.model_spec.version.value = self.model.version
        response.model_spec.signature_name = signature
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response


def _decode_instance_value(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    return value.encode() if isinstance(value, str) else value


def _json_value(value):
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value.item() if isinstance(value, np.generic) else value


def _handler(model: ServedModel):
    predict_path = re.compile(rf"^/v1/models/{re.escape(model.name)}(/versions/(\d+))?:predict$")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path != f"/v1/models/{model.name}":
                return self._send(404, {"error": f"Servable not found for request: Latest({self.path})"})
            status = {
                "version": str(model.version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            self._send(200, {"model_version_status": [status]})

        def do_POST(self):
            if not predict_path.match(self.path):
                return self._send(404, {"error": f"Malformed request: POST {self.path}"})
            try:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                signature = body.get("signature_name", "serving_default")
                if "instances" in body:
                    rows = body["instances"]
                    inputs = {k: np.array([_decode_instance_value(r[k]) for r in rows], dtype=object) for k in rows[0]}
                else:
                    inputs = {
                        k: np.array([_decode_instance_value(v) for v in vs], dtype=object)
                        for k, vs in body["inputs"].items()
                    }
                outputs = model.run(signature, inputs)
            except (KeyError, ValueError, TypeError, IndexError, tf.errors.InvalidArgumentError) as e:
                return self._send(400, {"error": str(e).splitlines()[0] if str(e) else type(e).__name__})
            n = len(next(iter(outputs.values())))
            rows = [{name: _json_value(value[i]) for name, value in outputs.items()} for i in range(n)]
            self._send(200, {"predictions": rows})

    return Handler


class TfServingStandin:
    """Starts gRPC and REST on loopback ports; use as a context manager."""

    def __init__(self, name: str, base_path: Path):
        self.model = ServedModel(name, base_path)

    def __enter__(self) -> TfServingStandin:
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_Servicer(self.model), self.grpc_server)
        self.grpc_port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        self.grpc_server.start()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.model))
        self.rest_port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
        self.grpc_server.stop(grace=None)
