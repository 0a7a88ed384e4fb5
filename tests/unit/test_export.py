"""The serving export (models/export.py) as the Trainer makes it: models/model.py's run_fn on the
embeddings of the `transformed` fixture (tests/support/transform_run.py: preprocessing_fn through
TFT on a few sample photos) trains a small head and exports it with the transform graph. Then
the SavedModel's signatures: their names, inputs and outputs, and their answers on raw JPEG
bytes and on tf.Examples. The pushed model of a real run is tests/e2e/test_pipeline_e2e.py."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import phone_export
from tests.support.transform_run import LABELS, photos

STRING, FLOAT, INT = tf.string, tf.float32, tf.int64


@pytest.fixture(scope="module")
def exported(transformed, tmp_path_factory):
    """run_fn's model folder: Format-Serving (the SavedModel) and Format-Head (the phone export's head)."""
    import tensorflow_transform as tft
    from tfx import v1 as tfx

    from models import model

    root = tmp_path_factory.mktemp("trainer")
    coder = tft.coders.ExampleProtoCoder(transformed["metadata"].schema)
    (root / "examples").mkdir()
    with tf.io.TFRecordWriter(str(root / "examples" / "train.gz"), options="GZIP") as writer:
        for row in transformed["rows"]:
            if row["label_index"] >= 0:  # the pipeline's examples all carry a dict.txt label
                writer.write(coder.encode(row))
    fn_args = tfx.components.FnArgs(
        train_files=[str(root / "examples" / "*")],
        eval_files=[str(root / "examples" / "*")],
        transform_output=str(transformed["output"]),
        serving_model_dir=str(root / "model" / "Format-Serving"),
        model_run_dir=str(root / "logs"),
        custom_config={"labels": LABELS, "hyperparameters": {"hidden_units": 0, "epochs": 3}},
    )
    # run_fn turns on TF's op determinism for the process, as the Trainer runs it; the tests
    # after this one in the same process must not run under it (TF has no public switch back).
    from tensorflow.python.framework import config as tf_config

    determinism = tf_config.is_op_determinism_enabled()
    try:
        model.run_fn(fn_args)
    finally:
        if not determinism:
            tf_config.disable_op_determinism()
    return root / "model"


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported / "Format-Serving"))


def _spec(tensors: dict) -> dict:
    return {name: (t.dtype, t.shape.as_list()) for name, t in tensors.items()}


def test_signatures_names_inputs_and_outputs(exported, loaded):
    signatures = loaded.signatures
    assert set(signatures) == {"serving_default", "serving_examples", "label_index"}
    n = len(LABELS)
    serving = signatures["serving_default"]
    assert _spec(serving.structured_input_signature[1]) == {"image_bytes": (STRING, [None]), "key": (STRING, [None])}
    assert _spec(serving.structured_outputs) == {
        "key": (STRING, [None]),
        "label": (STRING, [None]),
        "score": (FLOAT, [None]),
        "scores": (FLOAT, [None, n]),
        "classes": (STRING, [None, n]),
    }
    for name, output in (
        ("serving_examples", {"scores": (FLOAT, [None, n])}),
        ("label_index", {"label_index": (INT, [None])}),
    ):
        assert _spec(signatures[name].structured_input_signature[1]) == {"examples": (STRING, [None])}
        assert _spec(signatures[name].structured_outputs) == output
    assert (exported / "Format-Serving" / "assets.extra" / "dict.txt").read_text() == "\n".join(LABELS) + "\n"
    assert tf.io.gfile.exists(phone_export.head_path(str(exported)))  # the head alone, for the phone export


def test_serving_default_on_raw_jpeg_bytes_and_on_examples(loaded):
    rows = photos()
    keys, labels, images = ([r[i] for r in rows] for i in range(3))
    answer = loaded.signatures["serving_default"](image_bytes=tf.constant(images), key=tf.constant(keys))
    scores = answer["scores"].numpy()
    assert [k.decode() for k in answer["key"].numpy()] == keys
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5) and (scores >= 0).all()
    assert all([c.decode() for c in row] == LABELS for row in answer["classes"].numpy())
    assert [label.decode() for label in answer["label"].numpy()] == [LABELS[i] for i in scores.argmax(axis=1)]
    np.testing.assert_allclose(answer["score"].numpy(), scores.max(axis=1))

    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
                    "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
                    "key": tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode()])),
                }
            )
        ).SerializeToString()
        for key, label, image in rows
    ]
    from_examples = loaded.signatures["serving_examples"](examples=tf.constant(examples))["scores"].numpy()
    np.testing.assert_allclose(from_examples, scores, atol=1e-5)  # what TFMA evaluates is what is served
    label_index = loaded.signatures["label_index"](examples=tf.constant(examples))["label_index"].numpy()
    assert label_index.tolist() == [0, 0, 1, 1, 2, 2, -1]
