"""The decode + embed graph used by Transform and serving."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from preprocessing.images import decode_and_resize, embed_in_chunks
from tests.support.common import SAMPLE


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


def _copies_after_inlining(graph_def, target: str) -> int:
    """How many copies of function `target` a graph holds once every function call is inlined."""
    library = {f.signature.name: f for f in graph_def.library.function}

    def called(attr) -> list[str]:
        return [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]

    def copies_in_call(name: str) -> int:
        if name.startswith(target):
            return 1
        return copies(library[name].node_def) if name in library else 0

    def copies(nodes) -> int:
        return sum(copies_in_call(name) for node in nodes for attr in node.attr.values() for name in called(attr))

    return copies(graph_def.node)


def test_the_graph_holds_the_model_once_and_an_empty_batch_never_reaches_it():
    """One copy of decode + model in the graph: Grappler optimises it once on the first call.

    (A loop over the full chunks plus a call for the remainder held two copies.)"""
    seen = tf.Variable(0)

    @tf.function(autograph=False)
    def counting_model(pixels):
        seen.assign_add(tf.shape(pixels)[0])
        return tf.reduce_mean(pixels, axis=[1, 2])

    run = tf.function(lambda b: embed_in_chunks(b, 64, counting_model, 4, 3), autograph=False)
    graph_def = run.get_concrete_function(tf.TensorSpec([None], tf.string)).graph.as_graph_def()
    assert _copies_after_inlining(graph_def, "__inference_counting_model") == 1
    for call in (run, lambda b: embed_in_chunks(b, 64, counting_model, 4, 3)):  # in a graph, and eagerly
        assert call(tf.constant([], tf.string)).shape == (0, 3)
    assert int(seen.numpy()) == 0


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
