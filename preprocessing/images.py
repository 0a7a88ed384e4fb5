"""Image decoding and resizing in TensorFlow, shared by the Transform graph and serving.

Both paths run these exact ops, so training and serving see identical pixels. EXIF
orientation is not applied (TensorFlow's decoders ignore it), consistently on both.
"""

from __future__ import annotations

import tensorflow as tf


def decode_and_resize(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """[batch] encoded images (JPEG/PNG/GIF/BMP/WebP) -> float32 [batch, size, size, 3] RGB in [0, 255]."""

    def one(encoded: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return tf.image.resize(image, [size, size], method="bilinear", antialias=True)

    return tf.map_fn(
        one, image_bytes, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32), parallel_iterations=8
    )


def embed_in_chunks(image_bytes: tf.Tensor, size: int, extractor, chunk: int, embedding_size: int) -> tf.Tensor:
    """Decodes and embeds a batch of any length, at most `chunk` images at a time.

    Beam may hand Transform batches of a thousand records; decoding them all at once
    would hold every decoded image (and the backbone's activations) in memory. Here
    only one chunk is decoded at a time, while the backbone still sees real batches.
    The remainder after the full chunks is one smaller call: no padding, so a single
    image at serving time costs one image of work.
    """

    def embed(encoded: tf.Tensor) -> tf.Tensor:
        return extractor(decode_and_resize(encoded, size), training=False)

    n = tf.shape(image_bytes)[0]
    full = n // chunk * chunk
    chunks = tf.reshape(image_bytes[:full], [-1, chunk])
    embedded = tf.map_fn(
        embed, chunks, fn_output_signature=tf.TensorSpec([chunk, embedding_size], tf.float32), parallel_iterations=2
    )
    remainder = image_bytes[full:]
    # Never call the backbone on an empty batch: TF's optimised convolutions reject it.
    rest = tf.cond(tf.size(remainder) > 0, lambda: embed(remainder), lambda: tf.zeros([0, embedding_size], tf.float32))
    return tf.ensure_shape(
        tf.concat([tf.reshape(embedded, [-1, embedding_size]), rest], axis=0), [None, embedding_size]
    )
