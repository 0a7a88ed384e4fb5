"""The `transformed` fixture: preprocessing_fn through TensorFlow Transform, in memory, on a handful
of the sample's photos, its output written as the Transform component writes it (the transform
graph, the transformed and the raw metadata). Seconds, once per session; the unit tests of
preprocessing_fn and of the serving export read it. Registered in tests/conftest.py.
"""

from __future__ import annotations

import pytest

from tests.support.common import SAMPLE

LABELS = ["daisy", "roses", "tulips"]  # dict.txt of these tests
UNKNOWN = "sunflowers"  # a label dict.txt does not hold: label_index -1
PER_LABEL = 2
CHUNK = 3  # 7 photos: chunks of 3, 3 and 1


def photos() -> list[tuple[str, str, bytes]]:
    """(key, label, JPEG bytes): the first PER_LABEL photos of each of LABELS, then one of UNKNOWN."""
    paths = [p for label in LABELS for p in sorted((SAMPLE / label).glob("*.jpg"))[:PER_LABEL]]
    paths.append(sorted((SAMPLE / UNKNOWN).glob("*.jpg"))[0])
    return [(str(p), p.parent.name, p.read_bytes()) for p in paths]


@pytest.fixture(scope="session")
def transformed(tmp_path_factory) -> dict:
    """raw: the raw rows (image, label, key); rows: what preprocessing_fn made of each, in order;
    metadata: the transformed metadata; output: the Transform output folder (TFTransformOutput's);
    custom_config: what the pipeline passes (backbone efficientnet_lite0, its default weights)."""
    import tensorflow as tf
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    from preprocessing import features
    from preprocessing.preprocessing import preprocessing_fn

    root = tmp_path_factory.mktemp("transform")
    raw = [
        {features.IMAGE_KEY: image, features.LABEL_KEY: label, features.KEY_KEY: key} for key, label, image in photos()
    ]
    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in raw[0]}  # pipeline/schema.pbtxt
    raw_metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    config = {"backbone": "efficientnet_lite0", "backbone_weights": None, "labels": LABELS, "chunk_size": CHUNK}
    output = root / "transform_graph"
    with tft_beam.Context(temp_dir=str(root / "tmp")):
        (rows, metadata), transform_fn = (raw, raw_metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, config)
        )
        _ = transform_fn | tft_beam.WriteTransformFn(str(output))
    metadata_io.write_metadata(raw_metadata, str(output / "metadata"))  # the raw metadata, as Transform keeps it
    return dict(raw=raw, rows=rows, metadata=metadata, output=output, custom_config=config)
