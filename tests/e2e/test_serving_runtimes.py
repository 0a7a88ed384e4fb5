"""The pushed models in the runtimes they will meet, through TF Serving's whole API surface.

Runtimes: TF 2.19.1 (tensorflow/serving:2.19.1) and the TF of the Vertex image that
pipeline/configs.py names (2.15.1 for tf2-cpu.2-15), each a venv built by make setup,
running tests/support/tf_serving_standin.py (the model as a SavedModelBundle: serve tag,
SignatureDef tensors, one session). Scores must equal the in-process answers to 1e-5. First,
the runtimes alone: a small model with ops they know answers, one with an op newer than
them is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from tastebud.clients import GrpcClient, LocalClient, RestClient
from tastebud.inference import latest_version
from tests.support.common import MODEL_NAME
from tests.support.pipeline_runs import eval_examples
from tests.support.serving_runtimes import (
    RUNTIME_IDS,
    TF_SERVING,
    b64,
    rest_call,
    runtime_version,
    serving,
    vertex_runtime,
)


def _sizes_model(base: Path, decode) -> Path:
    """A SavedModel (saved by this project's TF) answering each image's [height, width],
    decoded with `decode`; output alias "size", int32 [batch, 2]."""

    class Sizes(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def serve(self, image_bytes):
            shape = tf.map_fn(lambda b: tf.shape(decode(b))[:2], image_bytes, fn_output_signature=tf.int32)
            return {"size": shape}

    model = Sizes()
    tf.saved_model.save(model, str(base / "1"), signatures={"serving_default": model.serve})
    return base


@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIME_IDS)
def test_a_model_with_ops_the_runtime_knows_loads_and_answers(runtime, tmp_path):
    """The control for the refusal below: same model shape, PNG instead of WebP."""
    base = _sizes_model(tmp_path / "png", tf.io.decode_png)
    png = tf.io.encode_png(tf.zeros([3, 5, 3], tf.uint8)).numpy()
    with serving(runtime_version(runtime), "sizes", base) as server:
        assert server.tf_version == runtime_version(runtime)
        request = json.dumps({"instances": [b64(png)]}).encode()
        status, body = rest_call(server.rest_port, "POST", "/v1/models/sizes:predict", request)
    assert (status, body) == (200, {"predictions": [[3, 5]]})


@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIME_IDS)
def test_a_model_using_an_op_newer_than_the_runtime_is_refused(runtime, tmp_path):
    """DecodeWebP is registered in TF 2.21 (this project's TF) but not in 2.19 or 2.15."""
    assert hasattr(tf.raw_ops, "DecodeWebP")
    base = _sizes_model(tmp_path / "webp", tf.io.decode_webp)
    version = runtime_version(runtime)
    with pytest.raises(RuntimeError, match=rf"Op type not registered 'DecodeWebP' in TensorFlow {version}"):
        with serving(version, "sizes", base):
            pass


@pytest.fixture(scope="module")
def flower_photos(flowers) -> tuple[list[bytes], list[str]]:
    rows = eval_examples(flowers["data"])[:6]
    return [r[2] for r in rows], [r[0] for r in rows]


def _assert_scores_match(expected, got) -> None:
    """Predictions of the same photos: same keys and labels, scores within 1e-5."""
    assert [p.key for p in got] == [p.key for p in expected]
    assert [p.label for p in got] == [p.label for p in expected]
    for e, g in zip(expected, got, strict=True):
        assert list(g.scores) == list(e.scores)
        np.testing.assert_allclose(list(g.scores.values()), list(e.scores.values()), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_rest_model_status_and_metadata(standin, flowers):
    version = flowers["latest_version"]
    assert standin.tf_version in (TF_SERVING, vertex_runtime())
    for path in (f"/v1/models/{MODEL_NAME}", f"/v1/models/{MODEL_NAME}/versions/{version}"):
        status, body = rest_call(standin.rest_port, "GET", path)
        assert status == 200 and body["model_version_status"][0]["version"] == version
        assert body["model_version_status"][0]["state"] == "AVAILABLE"
    assert RestClient(f"127.0.0.1:{standin.rest_port}", MODEL_NAME).version() == version
    status, body = rest_call(standin.rest_port, "GET", f"/v1/models/{MODEL_NAME}/metadata")
    assert status == 200 and body["model_spec"] == {"name": MODEL_NAME, "signature_name": "", "version": version}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert {k: v["dtype"] for k, v in signature["inputs"].items()} == {"image_bytes": "DT_STRING", "key": "DT_STRING"}
    assert {"key", "label", "score", "scores", "classes"} <= set(signature["outputs"])
    assert signature["method_name"] == "tensorflow/serving/predict"


@pytest.mark.slow
def test_grpc_metadata_is_the_saved_models_signature_defs(standin, flowers):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{standin.grpc_port}"))
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = MODEL_NAME
    response = stub.GetModelMetadata(request, timeout=60)
    assert response.model_spec.version.value == int(flowers["latest_version"])
    served = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(served)
    saved = saved_model_pb2.SavedModel.FromString((latest_version(flowers["serving"]) / "saved_model.pb").read_bytes())
    assert dict(served.signature_def) == dict(saved.meta_graphs[0].signature_def)
    with pytest.raises(grpc.RpcError) as e:
        request.ClearField("metadata_field")
        stub.GetModelMetadata(request, timeout=60)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at least one metadata_field" in e.value.details()


@pytest.mark.slow
def test_rest_columnar_inputs_and_versioned_rows_match_in_process(standin, flowers, flower_photos):
    images, keys = flower_photos
    _, local = LocalClient(flowers["serving"]).predict(images, keys)
    body = {"signature_name": "serving_default", "inputs": {"image_bytes": [b64(i) for i in images], "key": keys}}
    status, answer = rest_call(standin.rest_port, "POST", f"/v1/models/{MODEL_NAME}:predict", json.dumps(body).encode())
    assert status == 200 and set(answer) == {"outputs"}
    columns = answer["outputs"]
    assert columns["key"] == keys and columns["label"] == [p.label for p in local]
    expected = [list(p.scores.values()) for p in local]
    np.testing.assert_allclose(columns["scores"], expected, atol=1e-5, rtol=0)
    rows = {"instances": [{"image_bytes": b64(i), "key": k} for i, k in zip(images, keys, strict=True)]}
    path = f"/v1/models/{MODEL_NAME}/versions/{flowers['latest_version']}:predict"
    status, answer = rest_call(standin.rest_port, "POST", path, json.dumps(rows).encode())
    assert status == 200
    np.testing.assert_allclose([r["scores"] for r in answer["predictions"]], expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_grpc_predict_with_version_and_output_filter(standin, flowers, flower_photos):
    images, keys = flower_photos
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{standin.grpc_port}"))
    request = predict_pb2.PredictRequest(output_filter=["label"])
    request.model_spec.name = MODEL_NAME
    request.model_spec.version.value = int(flowers["latest_version"])
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    request.inputs["key"].CopyFrom(tf.make_tensor_proto(keys, dtype=tf.string))
    response = stub.Predict(request, timeout=120)
    assert set(response.outputs) == {"label"}
    assert response.model_spec.signature_name == "serving_default"
    _, local = LocalClient(flowers["serving"]).predict(images, keys)
    assert [b.decode() for b in tf.make_ndarray(response.outputs["label"])] == [p.label for p in local]


def _rest_body(images: list[bytes], keys: list[str], signature: str = "serving_default") -> bytes:
    rows = [{"image_bytes": b64(i), "key": k} for i, k in zip(images, keys, strict=True)]
    return json.dumps({"signature_name": signature, "instances": rows}).encode()


def _without_key(images: list[bytes], keys: list[str]) -> bytes:
    return json.dumps({"instances": [{"image_bytes": b64(i)} for i in images]}).encode()


PREDICT = f"/v1/models/{MODEL_NAME}:predict"
BAD_B64 = b'{"instances": [{"image_bytes": {"b64": "!!"}, "key": ""}]}'
REST_ERRORS = [  # (method, path, body(images, keys), HTTP code, message pattern): TF Serving's answers
    ("GET", "/v1/models/no_such", None, 404, r"Servable not found for request: Latest\(no_such\)"),
    ("GET", f"/v1/models/{MODEL_NAME}/versions/999", None, 404, rf"Specific\({MODEL_NAME}, 999\)"),
    ("POST", PREDICT, lambda i, k: _rest_body(i, k, "nope"), 400, 'name: "nope" not found'),
    ("POST", PREDICT, _without_key, 400, r"Missing but required: \{key\}"),
    ("POST", PREDICT, lambda i, k: BAD_B64, 400, "base64"),
    ("POST", PREDICT, lambda i, k: b"{}", 400, "Missing 'inputs' or 'instances' key"),
    ("POST", PREDICT, lambda i, k: b"{not json", 400, "JSON Parse error"),
    ("POST", f"/v1/models/{MODEL_NAME}:explain", lambda i, k: b"{}", 400, "Malformed request: POST"),
    ("POST", f"/v1/models/{MODEL_NAME}:classify", lambda i, k: b"{}", 501, "only predict"),
]


@pytest.mark.slow
@pytest.mark.parametrize("method,path,make_body,code,message", REST_ERRORS)
def test_rest_errors_as_tf_serving_writes_them(standin, flower_photos, method, path, make_body, code, message):
    images, keys = flower_photos
    body = make_body(images[:1], keys[:1]) if make_body else None
    status, answer = rest_call(standin.rest_port, method, path, body)
    assert status == code and list(answer) == ["error"], answer
    assert re.search(message, answer["error"]), answer["error"]


def _grpc_predict(port: int, images: list[bytes], keys: list[str], **spec) -> None:
    """A Predict call with the model_spec fields in `spec` (raises grpc.RpcError)."""
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = spec.pop("name", MODEL_NAME)
    request.model_spec.signature_name = spec.pop("signature_name", "")
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    for name, value in {"key": keys, **spec}.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=tf.string))
    stub.Predict(request, timeout=120)


GRPC_ERRORS = [  # (model_spec and extra inputs, status, message pattern): TF Serving's answers
    ({"name": "no_such"}, grpc.StatusCode.NOT_FOUND, r"Servable not found for request: Latest\(no_such\)"),
    ({"signature_name": "nope"}, grpc.StatusCode.FAILED_PRECONDITION, 'name: "nope" not found'),
    ({"extra": ["x"]}, grpc.StatusCode.INVALID_ARGUMENT, r"Sent extra: \{extra\}"),
]


@pytest.mark.slow
@pytest.mark.parametrize("spec,code,message", GRPC_ERRORS)
def test_grpc_errors_as_tf_serving_gives_them(standin, flower_photos, spec, code, message):
    images, keys = flower_photos
    with pytest.raises(grpc.RpcError) as e:
        _grpc_predict(standin.grpc_port, images[:1], keys[:1], **dict(spec))
    assert e.value.code() == code and re.search(message, e.value.details()), e.value.details()


@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIME_IDS)
def test_inception_v3_model_answers_as_in_process(runtime, inception):
    """The Inception-v3 model the pipeline pushed (random backbone weights) in each runtime."""
    rows = eval_examples(inception["data"])
    images, keys = [r[2] for r in rows], [r[0] for r in rows]
    _, local = LocalClient(inception["serving"]).predict(images, keys)
    with serving(runtime_version(runtime), MODEL_NAME, inception["serving"]) as server:
        _, rest = RestClient(f"127.0.0.1:{server.rest_port}", MODEL_NAME, batch_size=4).predict(images, keys)
        _, grpc_ = GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL_NAME, batch_size=3).predict(images, keys)
    _assert_scores_match(local, rest)
    _assert_scores_match(local, grpc_)


@pytest.mark.slow
def test_webp_photos_work_in_process_but_not_in_the_serving_runtimes(standin, flowers, flower_photos):
    """The known gap (README): TF 2.21's DecodeImage reads WebP, 2.19's and 2.15's do not."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(flower_photos[0][0])).save(buffer, "WEBP")
    _, local = LocalClient(flowers["serving"]).predict([buffer.getvalue()], ["photo.webp"])
    assert local[0].label in local[0].scores
    status, answer = rest_call(standin.rest_port, "POST", PREDICT, _rest_body([buffer.getvalue()], ["photo.webp"]))
    assert status == 400 and "Unknown image file format. One of JPEG, PNG, GIF, BMP required" in answer["error"]
