"""The decode + embed graph used by Transform and serving."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from preprocessing.images import decode_and_resize, embed_in_chunks
from tests.conftest import SAMPLE


class CountingExtractor:
    """Stands in for the backbone: mean pixel per channel, and counts the images it sees."""

    def __init__(self):
        self.seen = tf.Variable(0, dtype=tf.int32)

    def __call__(self, pixels, training=False):
        self.seen.assign_add(tf.shape(pixels)[0])
        return tf.reduce_mean(pixels, axis=[1, 2])


def test_chunked_embedding_matches_one_big_batch_without_padding_work():
    photos = [p.read_bytes() for p in sorted(SAMPLE.glob("*/*.jpg"))[:11]]
    extractor = CountingExtractor()
    run = tf.function(lambda b: embed_in_chunks(b, 64, extractor, 4, 3))
    chunked = run(tf.constant(photos))
    whole = tf.reduce_mean(decode_and_resize(tf.constant(photos), 64), axis=[1, 2])
    np.testing.assert_allclose(chunked, whole, rtol=1e-5)
    assert int(extractor.seen.numpy()) == 11  # 2 chunks of 4 + a remainder of 3, nothing padded
    assert run(tf.constant(photos[:1])).shape == (1, 3)


def test_batches_that_are_exact_multiples_of_the_chunk_work_with_a_real_keras_model():
    """A batch of exactly k chunks leaves an empty remainder, which must not reach the model."""
    import tf_keras

    inputs = tf_keras.Input((32, 32, 3))
    x = tf_keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = tf_keras.layers.DepthwiseConv2D(3, padding="same")(x)
    model = tf_keras.Model(inputs, tf_keras.layers.GlobalAveragePooling2D()(x))
    photos = [p.read_bytes() for p in sorted(SAMPLE.glob("*/*.jpg"))[:8]]
    run = tf.function(lambda b: embed_in_chunks(b, 32, model, 4, 8))
    for n in (8, 4, 5, 1):
        assert run(tf.constant(photos[:n])).shape == (n, 8)
