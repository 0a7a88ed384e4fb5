"""Image decoding and resizing in TensorFlow, shared by the Transform graph and serving.

Both paths run these exact ops, so training and serving see identical pixels:
  * JPEG: the size is read from the header (tf.io.extract_jpeg_shape) and a big photo is
    decoded at 1/2, 1/4 or 1/8 scale in the DCT (tf.io.decode_jpeg's `ratio`), the
    largest that keeps the short side >= JPEG_MIN_SHORT_SIDE_FACTOR x the input size;
    then its EXIF orientation is applied (preprocessing/exif.py), so a phone's sideways
    portrait is seen upright. A JPEG whose short side is under 2 x factor x size - 1
    (895 px for factor 2 and a 224-px backbone) decodes at full scale, exactly as
    tf.io.decode_image does.
  * PNG, GIF (first frame), BMP, WebP: tf.io.decode_image, untouched.
"""

from __future__ import annotations

import tensorflow as tf

from preprocessing.exif import apply_orientation, exif_orientation
from preprocessing.formats import JPEG
from preprocessing.settings import JPEG_DECODE_RATIOS, JPEG_MIN_SHORT_SIDE_FACTOR

_JPEG_MAGIC = JPEG.magic[0]  # what tf.io.decode_image itself recognises as JPEG


def jpeg_ratio(short_side: tf.Tensor, size: int, factor: int = JPEG_MIN_SHORT_SIDE_FACTOR) -> tf.Tensor:
    """int32 short side in pixels -> int32 index into JPEG_DECODE_RATIOS of the largest ratio r
    with ceil(short_side / r) >= factor * size (the last, ratio 1, when none fits)."""
    ratios = tf.constant(JPEG_DECODE_RATIOS, tf.int32)
    fits = (short_side + ratios - 1) // ratios >= factor * size
    return tf.cast(tf.argmax(tf.concat([tf.cast(fits[:-1], tf.int32), [1]], 0)), tf.int32)


def decode_jpeg_scaled(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """Scalar JPEG bytes -> uint8 [height, width, 3], DCT-downscaled when far bigger than needed."""
    shape = tf.io.extract_jpeg_shape(encoded)
    index = jpeg_ratio(tf.minimum(shape[0], shape[1]), size)
    branches = [lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r) for r in JPEG_DECODE_RATIOS]
    return tf.switch_case(index, branches)


def decode_upright(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """Scalar encoded image -> uint8 [height, width, 3] as a viewer shows it (see the module doc)."""

    def jpeg() -> tf.Tensor:
        return apply_orientation(decode_jpeg_scaled(encoded, size), exif_orientation(encoded))

    def other() -> tf.Tensor:
        return tf.io.decode_image(encoded, channels=3, expand_animations=False)

    image = tf.cond(tf.strings.substr(encoded, 0, len(_JPEG_MAGIC)) == _JPEG_MAGIC, jpeg, other)
    image.set_shape([None, None, 3])
    return image


def decode_and_resize(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """[batch] encoded images (JPEG/PNG/GIF/BMP/WebP) -> float32 [batch, size, size, 3] RGB in [0, 255]."""

    def one(encoded: tf.Tensor) -> tf.Tensor:
        return tf.image.resize(decode_upright(encoded, size), [size, size], method="bilinear", antialias=True)

    return tf.map_fn(
        one, image_bytes, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32), parallel_iterations=8
    )


def embed_in_chunks(image_bytes: tf.Tensor, size: int, extractor, chunk: int, embedding_size: int) -> tf.Tensor:
    """Decodes and embeds a batch of any length, at most `chunk` images at a time.

    Beam may hand Transform batches of a thousand records; decoding them all at once
    would hold every decoded image (and the backbone's activations) in memory. Here
    only one chunk is decoded at a time, while the backbone still sees real batches.
    The last chunk is simply shorter: no padding, so a single image at serving time costs
    one image of work, and an empty batch gives float32 [0, embedding_size] without
    calling the model. extractor: float32 [n, size, size, 3] RGB in [0, 255] -> float32
    [n, embedding_size], in inference mode (a Keras model, or a traced backbone's `embed`).

    One loop over the chunks, the last one included, puts the decoding and the backbone
    in the graph once. With a loop over the full chunks plus a separate call for the
    remainder, Grappler inlined both copies and optimised twice the graph on the first
    call: 1.9 s instead of 0.9 s (Lite0, 2 cores, TF_CPP_VMODULE=meta_optimizer=1), paid
    by Transform, the Evaluator and each server's first request.
    """
    # A traced function, so that eager callers do not decode image by image in Python.
    embed = tf.function(
        lambda encoded: extractor(decode_and_resize(encoded, size)),
        input_signature=[tf.TensorSpec([None], tf.string)],
        autograph=False,
    )
    n = tf.shape(image_bytes)[0]
    steps = (n + chunk - 1) // chunk  # never an empty call: TF's optimised convolutions reject one

    def step(i: tf.Tensor, embedded: tf.TensorArray) -> tuple:
        start = i * chunk
        return i + 1, embedded.write(i, embed(image_bytes[start : tf.minimum(start + chunk, n)]))

    embedded = tf.TensorArray(tf.float32, size=steps, infer_shape=False, element_shape=[None, embedding_size])
    _, embedded = tf.while_loop(lambda i, _: i < steps, step, [tf.constant(0), embedded], parallel_iterations=2)
    # Eagerly, concatenating an empty TensorArray is an error: an empty batch takes the other branch.
    return tf.ensure_shape(
        tf.cond(steps > 0, embedded.concat, lambda: tf.zeros([0, embedding_size], tf.float32)), [None, embedding_size]
    )
