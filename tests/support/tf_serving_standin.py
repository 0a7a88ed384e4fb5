"""A stand-in for tensorflow_model_server, for tests: TF Serving's REST and gRPC APIs on
loopback, backed by the model loaded the way TF Serving loads it.

What is real and what is not:
  * real: the TensorFlow runtime. This runs in a serving environment built by
    `make setup` with TF Serving's own TensorFlow (tensorflow-cpu 2.19.1, the TF inside
    tensorflow/serving:2.19.1) or Vertex AI's (2.15.1, tf2-cpu.2-15); the model is a
    SavedModelBundle (serve tag, SignatureDef tensors, one Session; standin_bundle.py).
  * real: the wire formats. gRPC uses tensorflow-serving-api's generated servicer;
    REST follows TF Serving's JSON mapping (standin_rest.py).
  * not real: TF Serving's C++ server (model manager, batching, version policies other
    than "newest", version labels, Classify/Regress). No registry these machines reach
    ships tensorflow_model_server, so it cannot run here.

  python tests/support/tf_serving_standin.py --model_name NAME --model_base_path DIR \
      [--port 0] [--rest_api_port 0]

Prints one line "READY grpc=PORT rest=PORT tf=VERSION" on stdout once both listen;
exits 1 with "cannot load ..." on stderr when the model does not load in this runtime.
"""

from __future__ import annotations

import argparse
import sys
import threading
from concurrent import futures
from http.server import ThreadingHTTPServer
from pathlib import Path

import grpc
import tensorflow as tf
from standin_bundle import Bundle, ServingError
from standin_rest import handler_class
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

SIGNATURE_DEF_FIELD = "signature_def"


def _abort(context: grpc.ServicerContext, error: ServingError):
    context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN), error.message)


class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """PredictionService: Predict and GetModelMetadata (the others answer UNIMPLEMENTED)."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle

    def _spec(self, request) -> None:
        spec = request.model_spec
        self.bundle.check_spec(spec.name, spec.version.value if spec.HasField("version") else None)

    def _fill_spec(self, spec, signature_name: str) -> None:
        spec.name = self.bundle.name
        spec.version.value = self.bundle.version
        spec.signature_name = signature_name

    def Predict(self, request: predict_pb2.PredictRequest, context) -> predict_pb2.PredictResponse:
        signature = request.model_spec.signature_name or "serving_default"
        try:
            self._spec(request)
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            outputs = self.bundle.run(signature, inputs, request.output_filter)
        except ServingError as e:
            _abort(context, e)
        response = predict_pb2.PredictResponse()
        self._fill_spec(response.model_spec, signature)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context) -> get_model_metadata_pb2.GetModelMetadataResponse:
        try:
            self._spec(request)
            _check_metadata_fields(list(request.metadata_field))
        except ServingError as e:
            _abort(context, e)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        for name, sig in self.bundle.signatures.items():
            signatures.signature_def[name].CopyFrom(sig)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        self._fill_spec(response.model_spec, "")
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signatures)
        return response


def _check_metadata_fields(fields: list[str]) -> None:
    """TF Serving's GetModelMetadataImpl checks, with its messages."""
    if not fields:
        raise ServingError("INVALID_ARGUMENT", "GetModelMetadataRequest must specify at least one metadata_field")
    for field in fields:
        if field != SIGNATURE_DEF_FIELD:
            raise ServingError("INVALID_ARGUMENT", f"Metadata field {field} is not supported")


class Standin:
    """Both servers on loopback; `close()` stops them."""

    def __init__(self, bundle: Bundle, grpc_port: int = 0, rest_port: int = 0):
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(bundle), self.grpc_server)
        self.grpc_port = self.grpc_server.add_insecure_port(f"127.0.0.1:{grpc_port}")
        self.grpc_server.start()
        self.http = ThreadingHTTPServer(("127.0.0.1", rest_port), handler_class(bundle))
        self.rest_port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.grpc_server.stop(grace=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_base_path", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0, help="gRPC port (0: any free one)")
    parser.add_argument("--rest_api_port", type=int, default=0, help="REST port (0: any free one)")
    args = parser.parse_args(argv)
    try:
        bundle = Bundle(args.model_name, args.model_base_path)
    except Exception as e:  # whatever the runtime raises: the point is to report it
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(
            f"cannot load {args.model_base_path} in TensorFlow {tf.__version__} the way TF Serving does: "
            f"{type(e).__name__}: {first}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    server = Standin(bundle, args.port, args.rest_api_port)
    print(f"READY grpc={server.grpc_port} rest={server.rest_port} tf={tf.__version__}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
