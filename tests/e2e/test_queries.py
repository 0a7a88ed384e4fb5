"""Queries against the pushed model: in-process, TF Serving REST and gRPC, the CLI.

TF Serving itself cannot run here; tests/support/tf_serving_standin.py speaks its REST and
gRPC protocols over loopback, backed by the same SavedModel loaded as TF Serving loads
it, in TF Serving's TensorFlow (2.19.1) and in the Vertex image's (2.15.1): the
`standin` fixture (conftest.py) runs every test here once per runtime.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tastebud.cli import main as cli
from tastebud.clients import GrpcClient, LocalClient, RestClient, ServerError
from tests.support.common import MODEL_NAME
from tests.support.pipeline_runs import eval_examples

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos(flowers, tmp_path_factory) -> list[str]:
    """Eval-split photos written back to files, named after their label."""
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for i, (_, label, image) in enumerate(eval_examples(flowers["data"])[:7]):
        path = folder / f"{i}_{label}.jpg"
        path.write_bytes(image)
        paths.append(str(path))
    return paths


def _read(paths):
    return [open(p, "rb").read() for p in paths], list(paths)


def test_rest_grpc_and_in_process_agree(flowers, standin, photos):
    images, keys = _read(photos)
    local_version, local = LocalClient(flowers["serving"], batch_size=4).predict(images, keys)
    rest_version, rest = RestClient(f"127.0.0.1:{standin.rest_port}", MODEL_NAME, batch_size=3).predict(images, keys)
    grpc_version, grpc_ = GrpcClient(f"127.0.0.1:{standin.grpc_port}", MODEL_NAME, batch_size=5).predict(images, keys)
    assert local_version == rest_version == grpc_version == flowers["latest_version"]
    for a, b, c in zip(local, rest, grpc_, strict=True):
        assert a.key == b.key == c.key
        assert a.label == b.label == c.label
        assert (
            list(a.scores)
            == list(b.scores)
            == list(c.scores)
            == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
        )
        np.testing.assert_allclose(list(a.scores.values()), list(b.scores.values()), atol=1e-5)
        np.testing.assert_allclose(list(a.scores.values()), list(c.scores.values()), atol=1e-5)
    correct = sum(p.label in p.key for p in local)
    assert correct >= 5, [(p.key, p.label) for p in local]


def test_predict_cli_table_names_every_class(flowers, photos, capsys):
    assert cli(["predict", *photos[:2], "--model", str(flowers["serving"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["KEY", "LABEL", "SCORE", "daisy", "dandelion", "roses", "sunflowers", "tulips"]
    assert len(out) == 3 and out[1].startswith(photos[0])


def test_predict_cli_json_over_rest_and_grpc(standin, photos, capsys):
    assert cli(["predict", *photos, "--server", f"127.0.0.1:{standin.rest_port}", "--json", "--batch-size", "2"]) == 0
    rest = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert cli(["predict", *photos, "--server", f"127.0.0.1:{standin.grpc_port}", "--grpc", "--json"]) == 0
    grpc_ = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["key"] for r in rest] == photos == [g["key"] for g in grpc_]
    for r, g in zip(rest, grpc_, strict=True):
        assert set(r) == {"key", "label", "score", "scores"} and r["label"] == g["label"]
        assert r["score"] == pytest.approx(max(r["scores"].values()))


def test_encoded_request_works_as_curl_would_send_it(standin, photos, tmp_path):
    request_file = tmp_path / "request.json"
    assert cli(["encode", *photos[:3], "-o", str(request_file)]) == 0
    body = json.loads(request_file.read_text())
    assert set(body["instances"][0]) == {"image_bytes", "key"} and "b64" in body["instances"][0]["image_bytes"]
    url = f"http://127.0.0.1:{standin.rest_port}/v1/models/{MODEL_NAME}:predict"
    request = urllib.request.Request(url, data=request_file.read_bytes(), headers={"Content-Type": "application/json"})
    predictions = json.loads(urllib.request.urlopen(request).read())["predictions"]
    assert [p["key"] for p in predictions] == photos[:3]


def test_server_errors_are_clear(standin, photos, capsys):
    with pytest.raises(ServerError, match="404"):
        RestClient(f"127.0.0.1:{standin.rest_port}", "no_such_model").predict(*_read(photos[:1]))
    with pytest.raises(ServerError, match="NOT_FOUND"):
        GrpcClient(f"127.0.0.1:{standin.grpc_port}", "no_such_model").predict(*_read(photos[:1]))
    assert cli(["predict", photos[0], "--server", "127.0.0.1:9"]) == 2
    assert "cannot reach TF Serving" in capsys.readouterr().err


def test_predict_cli_missing_file(flowers, capsys):
    assert cli(["predict", "/nonexistent.jpg", "--model", str(flowers["serving"])]) == 2
    assert "no such image file" in capsys.readouterr().err


def test_predict_cli_names_each_bad_file_and_still_labels_the_good_ones(flowers, photos, tmp_path, capsys):
    """A phone folder's junk (empty, truncated, not an image) is rejected by name and reason."""
    empty, truncated, text = tmp_path / "empty.jpg", tmp_path / "truncated.jpg", tmp_path / "notes.txt"
    empty.write_bytes(b"")
    truncated.write_bytes(Path(photos[0]).read_bytes()[:500])
    text.write_text("my photos\n")
    bad = [str(empty), str(truncated), str(text)]
    assert cli(["predict", photos[0], *bad, photos[1], "--model", str(flowers["serving"])]) == 1
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()[1:]] == photos[:2]
    errors = [line for line in captured.err.splitlines() if line.startswith("rejected ")]
    assert [line.split(": ", 1)[0] for line in errors] == [f"rejected {path}" for path in bad]
    assert errors[0].endswith(": empty file") and errors[2].endswith(": not an image (unrecognised content)")
    assert "truncated" in errors[1]
    assert cli(["predict", *bad, "--model", str(flowers["serving"])]) == 1
    capsys.readouterr()
    missing = str(tmp_path / "no_such_photo.jpg")  # a typo among good files: rejected, the others labelled
    assert cli(["predict", photos[0], missing, "--model", str(flowers["serving"])]) == 1
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()[1:]] == photos[:1]
    assert f"rejected {missing}: file not found" in captured.err
