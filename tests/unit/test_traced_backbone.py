"""The backbone as an already-traced SavedModel (preprocessing/traced_backbone.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import traced_backbone
from preprocessing.backbones import RANDOM_WEIGHTS, get_backbone


def _sample_pixels(sample_dir, size: int) -> tf.Tensor:
    files = sorted(sample_dir.glob("*/*.jpg"))[::20]
    images = [tf.io.decode_jpeg(f.read_bytes(), channels=3) for f in files]
    return tf.stack([tf.image.resize(image, [size, size], antialias=True) for image in images])


def test_lite0_traced_embeddings_equal_the_keras_model(sample_dir, tmp_path, monkeypatch):
    """The traced function runs the Keras model's own ops: embeddings agree to 1e-5."""
    monkeypatch.setenv("TASTEBUD_WEIGHTS_CACHE", str(tmp_path))
    backbone = get_backbone("efficientnet_lite0")
    pixels = _sample_pixels(sample_dir, backbone.input_size)
    expected = backbone.build_feature_extractor()(pixels, training=False).numpy()
    got = traced_backbone.load(backbone.name).embed(pixels).numpy()
    assert got.shape == (len(pixels), 1280)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_export_is_cached_by_weights_content(tmp_path, monkeypatch):
    monkeypatch.setenv("TASTEBUD_WEIGHTS_CACHE", str(tmp_path))
    first = traced_backbone.saved_model_path("efficientnet_lite0", RANDOM_WEIGHTS)
    assert (first / "saved_model.pb").is_file()
    monkeypatch.setattr(traced_backbone, "export", lambda *a: pytest.fail("exported twice"))
    assert traced_backbone.saved_model_path("efficientnet_lite0", RANDOM_WEIGHTS) == first
    real = traced_backbone.cache_key("efficientnet_lite0", get_backbone("efficientnet_lite0").resolve_weights(None))
    assert real != first.name  # other weights, another folder
    assert not list(tmp_path.glob("*.tmp*")), "a temporary export folder was left behind"


def test_can_be_loaded_while_tracing(tmp_path, monkeypatch):
    """TFT calls the factory inside its trace; exporting and loading must still work there."""
    monkeypatch.setenv("TASTEBUD_WEIGHTS_CACHE", str(tmp_path))

    @tf.function
    def traced(pixels):
        return traced_backbone.load("efficientnet_lite0", RANDOM_WEIGHTS).embed(pixels)

    assert traced(tf.zeros([2, 224, 224, 3])).shape == (2, 1280)
