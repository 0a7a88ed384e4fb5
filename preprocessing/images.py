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
    """Decodes and embeds a batch of any length, `chunk` images at a time.

    Beam may hand Transform batches of a thousand records; decoding them all at once
    would hold every decoded image (and the backbone's activations) in memory. Here
    only one chunk is decoded at a time, while the backbone still sees real batches.
    """
    n = tf.shape(image_bytes)[0]
    padded_n = (n + chunk - 1) // chunk * chunk
    padded = tf.concat([image_bytes, tf.fill([padded_n - n], _PLACEHOLDER_PNG)], axis=0)
    chunks = tf.reshape(padded, [-1, chunk])
    embedded = tf.map_fn(
        lambda c: extractor(decode_and_resize(c, size), training=False),
        chunks,
        fn_output_signature=tf.TensorSpec([chunk, embedding_size], tf.float32),
        parallel_iterations=1,
    )
    return tf.reshape(embedded, [-1, embedding_size])[:n]


# A valid 1x1 PNG, used only to pad the last chunk (its embeddings are sliced away).
_PLACEHOLDER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
