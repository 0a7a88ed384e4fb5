"""preprocessing_fn (the Transform component's) through TensorFlow Transform on a few of the sample's
photos, in memory (the `transformed` fixture, tests/support/transform_run.py): what it makes of
each photo, shapes, dtypes, label indices (-1 for a label dict.txt does not hold), the key passed
through, and the feature specs of the written output. The transform graph on images alone (as
serving runs it) is tests/unit/test_export.py; the Transform component on the whole sample,
tests/e2e/test_pipeline_e2e.py."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from preprocessing.backbones import get_backbone
from preprocessing.preprocessing import label_to_index
from tests.support.transform_run import LABELS, UNKNOWN

BACKBONE = get_backbone("efficientnet_lite0")


def test_label_to_index_is_the_dict_txt_line_or_minus_one():
    indices = label_to_index(tf.constant(["roses", "orchids", "daisy", ""]), ["daisy", "roses"])
    assert indices.dtype == tf.int64 and indices.numpy().tolist() == [1, -1, 0, -1]


def test_each_photo_gets_its_backbone_embedding_label_index_and_key(transformed):
    from preprocessing import traced_backbone
    from preprocessing.images import decode_and_resize

    raw, rows = transformed["raw"], transformed["rows"]
    assert len(rows) == len(raw) == 3 * 2 + 1
    assert all(set(row) == {"embedding", "label_index", "key"} for row in rows)
    embeddings = np.stack([row["embedding"] for row in rows])
    assert embeddings.dtype == np.float32 and embeddings.shape == (7, BACKBONE.embedding_size)
    assert np.isfinite(embeddings).all() and len({e.tobytes() for e in embeddings}) == 7
    assert [row["label_index"] for row in rows] == [0, 0, 1, 1, 2, 2, -1]
    assert [raw[i]["label"] for i in range(7)] == [*[label for label in LABELS for _ in range(2)], UNKNOWN]
    assert [row["key"] for row in rows] == [r["key"].encode() for r in raw]
    # Chunked in threes, in order: each photo's row is the backbone on that photo, decoded.
    extractor = traced_backbone.load(BACKBONE.name, None)
    pixels = decode_and_resize(tf.constant([r["image"] for r in raw]), BACKBONE.input_size)
    np.testing.assert_allclose(embeddings, extractor.embed(pixels).numpy(), atol=1e-4)


def test_the_written_transform_output_describes_the_raw_and_the_transformed_features(transformed):
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(str(transformed["output"]))
    assert output.transformed_feature_spec() == {
        "embedding": tf.io.FixedLenFeature([BACKBONE.embedding_size], tf.float32),
        "label_index": tf.io.FixedLenFeature([], tf.int64),
        "key": tf.io.FixedLenFeature([], tf.string),
    }
    assert set(output.raw_feature_spec()) == {"image", "label", "key"}
