"""tf.image.resize(..., "bilinear", antialias=True) as two matrix products, for the phone model.

The serving graph resizes with TensorFlow's ScaleAndTranslate op (antialiased bilinear:
a triangle filter widened by the downscale factor). LiteRT has no such op, and a plain
RESIZE_BILINEAR without antialiasing would show the backbone other pixels than it saw in
training. The same filter is separable and linear, so it is a [size, height] matrix on
the rows and a [size, width] one on the columns, built at run time from the image's size
with LiteRT builtins (RANGE, ABS, MAXIMUM, SUM, POW, MUL, BATCH_MATMUL). The weights follow
ScaleAndTranslate's (tensorflow/core/kernels/image/scale_and_translate_op.cc): output
pixel x samples at (x + 0.5) / scale, the kernel is widened by max(1 / scale, 1), source
pixels outside the image are left out and each row is normalised to sum 1.
tests/unit/test_tflite.py checks the result against tf.image.resize.
"""

from __future__ import annotations

import tensorflow as tf


def filter_matrix(in_size: tf.Tensor, out_size: int) -> tf.Tensor:
    """float32 [out_size, in_size]: row x holds the weights of output pixel x over the source pixels."""
    scale = tf.cast(out_size, tf.float32) / tf.cast(in_size, tf.float32)
    inv_scale = 1.0 / scale
    one_over_kernel_scale = 1.0 / tf.maximum(inv_scale, 1.0)
    sample = (tf.range(out_size, dtype=tf.float32) + 0.5) * inv_scale
    source = tf.cast(tf.range(in_size), tf.float32) + 0.5
    distance = (tf.expand_dims(source, 0) - tf.expand_dims(sample, 1)) * one_over_kernel_scale
    weights = tf.maximum(0.0, 1.0 - tf.abs(distance))  # the triangle kernel, radius 1
    # x * sum^-1, not x / sum: LiteRT's int8 DIV kernel rejects a denominator that quantises to
    # its zero point, while POW has no int8 kernel, so int8 conversion keeps it in float.
    return weights * tf.pow(tf.reduce_sum(weights, axis=1, keepdims=True), -1.0)


def resize_antialiased(image: tf.Tensor, size: int) -> tf.Tensor:
    """float32 [height, width, channels] -> [size, size, channels], as tf.image.resize(antialias=True)."""
    shape = tf.shape(image)
    height, width, channels = shape[0], shape[1], shape[2]
    rows = tf.matmul(filter_matrix(height, size), tf.reshape(image, [height, width * channels]))
    by_column = tf.reshape(tf.transpose(tf.reshape(rows, [size, width, channels]), [0, 2, 1]), [-1, width])
    resized = tf.matmul(by_column, filter_matrix(width, size), transpose_b=True)  # [size * channels, size]
    return tf.transpose(tf.reshape(resized, [size, channels, size]), [0, 2, 1])
