"""The Transform component's preprocessing_fn: raw image bytes -> bottleneck embedding.

The backbone is created with tft.make_and_track_object, so it lives inside the
transform graph: Transform computes embeddings once over the dataset (in Beam, in
batches), and the very same graph, weights included, is what the Trainer puts in
front of the head in the serving model.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from preprocessing import contract, traced_backbone
from preprocessing.backbones import get_backbone
from preprocessing.embedding_cache import embed_missing, fingerprint_once, first_or_empty
from preprocessing.images import embed_in_chunks
from preprocessing.settings import TRANSFORM_CHUNK_SIZE

# One traced image -> embedding function per (backbone, weights, chunk) and process:
# TFT's later traces of preprocessing_fn call it instead of re-tracing the decoding.
_EMBEDDERS: dict[tuple, tf.types.experimental.PolymorphicFunction] = {}


def embedder(extractor, name: str, weights: str | None, chunk: int):
    """[n] image bytes -> float32 [n, embedding size]: the traced decode + backbone Transform runs
    (extractor: a traced backbone, preprocessing/traced_backbone.py). bench/ times it alone."""
    key = (name, weights, chunk, id(extractor))
    if key not in _EMBEDDERS:
        backbone = get_backbone(name)
        _EMBEDDERS[key] = tf.function(
            lambda image_bytes: embed_in_chunks(
                image_bytes, backbone.input_size, extractor.embed, chunk, backbone.embedding_size
            ),
            input_signature=[tf.TensorSpec([None], tf.string)],
            autograph=False,  # explicit tf.cond / tf.map_fn / tf.while_loop only; converting cost seconds
        )
    return _EMBEDDERS[key]


def label_to_index(labels: tf.Tensor, vocabulary: list[str]) -> tf.Tensor:
    """Label string -> its line in dict.txt, or -1 when it is not there."""
    matches = tf.equal(tf.expand_dims(labels, -1), tf.constant(vocabulary))
    index = tf.argmax(tf.cast(matches, tf.int64), axis=-1)
    return tf.where(tf.reduce_any(matches, axis=-1), index, tf.constant(-1, tf.int64))


def preprocessing_fn(inputs: dict[str, tf.Tensor], custom_config: dict) -> dict[str, tf.Tensor]:
    """custom_config: backbone (name), backbone_weights (path or None), labels (dict.txt lines), chunk_size,
    reuse_embeddings (rows with a cached embedding under this run's fingerprint, computed here where the
    weights are, are not re-embedded: preprocessing/embedding_cache.py)."""
    backbone = get_backbone(custom_config["backbone"])
    weights = custom_config.get("backbone_weights")
    # TFT traces this function several times: the backbone is an already-traced
    # SavedModel (preprocessing/traced_backbone.py), loaded once per process.
    extractor = tft.make_and_track_object(lambda: traced_backbone.load(backbone.name, weights), name="backbone")
    chunk = int(custom_config.get("chunk_size", TRANSFORM_CHUNK_SIZE))
    images = tf.reshape(inputs[contract.IMAGE_KEY], [-1])
    embed = embedder(extractor, backbone.name, weights, chunk)
    if contract.CACHED_EMBEDDING_KEY in inputs and custom_config.get("reuse_embeddings"):
        # Only the rows without a usable cached embedding reach the backbone (serving: all rows).
        embedding = embed_missing(
            images,
            inputs[contract.CACHED_EMBEDDING_KEY],
            inputs[contract.CONTENT_KEY],
            fingerprint_once(backbone.name, weights),
            embed,
            backbone.embedding_size,
        )
    else:
        embedding = embed(images)
    outputs = {contract.EMBEDDING_KEY: embedding}
    if contract.LABEL_KEY in inputs:
        outputs[contract.LABEL_INDEX_KEY] = label_to_index(inputs[contract.LABEL_KEY], list(custom_config["labels"]))
    if contract.KEY_KEY in inputs:  # passed through: the out-of-fold predictions are kept per photo
        outputs[contract.KEY_KEY] = tf.identity(inputs[contract.KEY_KEY])
    if contract.CONTENT_KEY in inputs:  # the next run's cache: embeddings by content
        outputs[contract.CONTENT_KEY] = first_or_empty(inputs[contract.CONTENT_KEY], tf.shape(images)[0])
    return outputs
