"""The Transform component's preprocessing_fn: raw image bytes -> bottleneck embedding.

The backbone is created with tft.make_and_track_object, so it lives inside the
transform graph: Transform computes embeddings once over the dataset (in Beam, in
batches), and the very same graph, weights included, is what the Trainer puts in
front of the head in the serving model.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from pipeline import configs
from preprocessing import features
from preprocessing.backbones import get_backbone
from preprocessing.images import embed_in_chunks

# TFT traces preprocessing_fn several times (analysis, transform, saving); building
# the backbone and loading its weights each time cost more than embedding a thousand
# images. One Keras model per (backbone, weights) per process is shared by all traces.
_EXTRACTORS: dict[tuple[str, str | None], object] = {}


def _extractor(name: str, weights: str | None):
    key = (name, weights)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = get_backbone(name).build_feature_extractor(weights)
    return _EXTRACTORS[key]


def label_to_index(labels: tf.Tensor, vocabulary: list[str]) -> tf.Tensor:
    """Label string -> its line in dict.txt, or -1 when it is not there."""
    matches = tf.equal(tf.expand_dims(labels, -1), tf.constant(vocabulary))
    index = tf.argmax(tf.cast(matches, tf.int64), axis=-1)
    return tf.where(tf.reduce_any(matches, axis=-1), index, tf.constant(-1, tf.int64))


def preprocessing_fn(inputs: dict[str, tf.Tensor], custom_config: dict) -> dict[str, tf.Tensor]:
    """custom_config: backbone (name), backbone_weights (path or None), labels (dict.txt lines), chunk_size."""
    backbone = get_backbone(custom_config["backbone"])
    weights = custom_config.get("backbone_weights")
    extractor = tft.make_and_track_object(lambda: _extractor(backbone.name, weights), name="backbone")
    embedding = embed_in_chunks(
        inputs[features.IMAGE_KEY],
        backbone.input_size,
        extractor,
        int(custom_config.get("chunk_size", configs.TRANSFORM_CHUNK_SIZE)),
        backbone.embedding_size,
    )
    outputs = {features.EMBEDDING_KEY: embedding}
    if features.LABEL_KEY in inputs:
        outputs[features.LABEL_INDEX_KEY] = label_to_index(inputs[features.LABEL_KEY], list(custom_config["labels"]))
    return outputs
