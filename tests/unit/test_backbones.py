"""The backbone registry: shapes, normalisation, real Lite0 weights, Inception loading path."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import backbones, efficientnet_lite
from preprocessing.backbones import RANDOM_WEIGHTS, BackboneWeightsError, get_backbone

DAISY_IMAGENET_CLASS = 985


def _load(path, size: int) -> tf.Tensor:
    image = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
    return tf.image.resize(image, [size, size], antialias=True)


def test_registry_describes_both_backbones():
    inception = get_backbone("inception_v3")
    lite0 = get_backbone("efficientnet_lite0")
    assert (inception.input_size, inception.embedding_size) == (299, 2048)
    assert (lite0.input_size, lite0.embedding_size) == (224, 1280)
    with pytest.raises(ValueError, match="unknown backbone"):
        get_backbone("resnet9000")


@pytest.mark.parametrize(
    "name, expected",
    [("inception_v3", (-1.0, 1.0)), ("efficientnet_lite0", ((0 - 127) / 128, (255 - 127) / 128))],
)
def test_normalisation_maps_pixel_range(name, expected):
    b = get_backbone(name)
    low, high = 0 * b.scale + b.offset, 255 * b.scale + b.offset
    assert (low, high) == pytest.approx(expected)


def test_lite0_feature_extractor_shape_and_determinism():
    model = get_backbone("efficientnet_lite0").build_feature_extractor()
    batch = tf.random.uniform((3, 224, 224, 3), 0, 255, seed=1)
    first, second = model(batch), model(batch)
    assert first.shape == (3, 1280)
    np.testing.assert_allclose(first, second, rtol=1e-5)
    assert float(tf.reduce_min(first)) >= 0.0  # pooled ReLU6 activations


def test_lite0_conversion_labels_daisies_as_daisy(sample_dir):
    """The converted ImageNet head must recognise the sample's daisies (class 985)."""
    model = efficientnet_lite.load_imagenet_model()
    lite0 = get_backbone("efficientnet_lite0")
    files = sorted((sample_dir / "daisy").glob("*.jpg"))
    batch = tf.stack([_load(f, 224) for f in files]) * lite0.scale + lite0.offset
    logits, _ = model(batch)
    hits = int(np.sum(np.argmax(logits, axis=1) == DAISY_IMAGENET_CLASS))
    assert len(files) == 40
    assert hits >= 30, f"only {hits}/40 daisies labelled daisy: the weight conversion is wrong"


def test_lite0_conversion_is_cached_by_source_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("TASTEBUD_WEIGHTS_CACHE", str(tmp_path))
    efficientnet_lite.load_imagenet_model()
    cached = list(tmp_path.glob("efficientnet_lite0-*.h5"))
    assert len(cached) == 1
    # A second load reads the cache instead of converting again.
    monkeypatch.setattr(efficientnet_lite, "convert", lambda *a: pytest.fail("converted twice"))
    efficientnet_lite.load_imagenet_model()


def test_inception_loads_a_weights_file_given_by_env(tmp_path, monkeypatch):
    """Writes an Inception-v3 weights file, then checks the registry loads exactly it."""
    import tf_keras

    source = tf_keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg")
    weights_file = tmp_path / backbones.INCEPTION_NOTOP_FILE
    source.save_weights(str(weights_file))
    monkeypatch.setenv(backbones.INCEPTION_WEIGHTS_ENV, str(weights_file))

    model = get_backbone("inception_v3").build_feature_extractor()
    pixels = tf.random.uniform((2, 299, 299, 3), 0, 255, seed=2)
    expected = source(pixels / 127.5 - 1.0)
    got = model(pixels)
    assert got.shape == (2, 2048)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_inception_without_weights_fails_before_work_with_instructions(tmp_path, monkeypatch):
    monkeypatch.delenv(backbones.INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(backbones.tf_keras.utils, "get_file", no_network)
    with pytest.raises(BackboneWeightsError) as err:
        get_backbone("inception_v3").build_feature_extractor()
    message = str(err.value)
    assert backbones.INCEPTION_WEIGHTS_ENV in message and "efficientnet_lite0" in message


def test_inception_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(BackboneWeightsError, match="not found"):
        get_backbone("inception_v3").resolve_weights(str(tmp_path / "nope.h5"))


def test_random_weights_only_when_asked():
    model = get_backbone("efficientnet_lite0").build_feature_extractor(RANDOM_WEIGHTS)
    assert model(tf.zeros((1, 224, 224, 3))).shape == (1, 1280)
