"""Exports the serving model: one graph from raw image bytes to label and scores.

Signatures:
  serving_default   image_bytes (+ key, echoed back) -> key, label, score, scores, classes.
                    The input TF Serving's REST API takes as
                    {"instances": [{"image_bytes": {"b64": ...}, "key": "..."}]}.
  serving_examples  serialized tf.Example -> scores (what TFMA evaluates).
  label_index       serialized tf.Example -> label_index (the label's line in dict.txt,
                    -1 when absent), TFMA's preprocessing function. Only the label is
                    read: TFMA used to take it from the whole Transform graph, which
                    embedded every eval image a second time (about 7 s per model on 56
                    images, 2 cores, most of it optimising that graph on its first call).
serving_default and serving_examples run the Transform graph (decode, resize,
backbone) and the head in one graph.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras

from preprocessing import contract
from preprocessing.contract import EXAMPLES_SIGNATURE, LABEL_SIGNATURE, SCORES_OUTPUT, SERVING_SIGNATURE
from preprocessing.embedding_cache import without_cache
from preprocessing.preprocessing import label_to_index


def _raw_image_spec(tf_transform_output: tft.TFTransformOutput) -> dict:
    spec = tf_transform_output.raw_feature_spec()
    return {contract.IMAGE_KEY: spec[contract.IMAGE_KEY]}


def save_serving_model(
    head: tf_keras.Model, tf_transform_output: tft.TFTransformOutput, labels: list[str], export_dir: str
) -> None:
    model = head
    model.tft_layer = tf_transform_output.transform_features_layer()  # tracked: saved with the model
    class_names = tf.constant(labels)
    raw_spec = tf_transform_output.raw_feature_spec()

    def scores_for_images(image_bytes: tf.Tensor) -> tf.Tensor:
        # No cached embeddings at serving time: the backbone runs on every image.
        transformed = model.tft_layer(without_cache(image_bytes, raw_spec))
        return model(transformed[contract.EMBEDDING_KEY], training=False)

    # autograph=False: no Python control flow here, and converting it cost seconds per export.
    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name=contract.IMAGE_INPUT),
            tf.TensorSpec([None], tf.string, name=contract.KEY_INPUT),
        ],
        autograph=False,
    )
    def serve_images(image_bytes, key):
        scores = scores_for_images(image_bytes)
        best = tf.argmax(scores, axis=-1)
        return {
            contract.KEY_OUTPUT: tf.identity(key),
            contract.LABEL_OUTPUT: tf.gather(class_names, best),
            contract.SCORE_OUTPUT: tf.reduce_max(scores, axis=-1),
            SCORES_OUTPUT: scores,
            contract.CLASSES_OUTPUT: tf.tile(tf.expand_dims(class_names, 0), [tf.shape(scores)[0], 1]),
        }

    examples = [tf.TensorSpec([None], tf.string, name=contract.EXAMPLES_INPUT)]

    @tf.function(input_signature=examples, autograph=False)
    def serve_examples(serialized):
        raw = tf.io.parse_example(serialized, _raw_image_spec(tf_transform_output))
        return {SCORES_OUTPUT: scores_for_images(raw[contract.IMAGE_KEY])}

    @tf.function(input_signature=examples, autograph=False)
    def label_index(serialized):
        spec = {contract.LABEL_KEY: tf_transform_output.raw_feature_spec()[contract.LABEL_KEY]}
        raw = tf.io.parse_example(serialized, spec)
        return {contract.LABEL_INDEX_KEY: label_to_index(raw[contract.LABEL_KEY], labels)}

    signatures = {
        SERVING_SIGNATURE: serve_images.get_concrete_function(),
        EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
        LABEL_SIGNATURE: label_index.get_concrete_function(),
    }
    tf.saved_model.save(model, export_dir, signatures=signatures)
    tf.io.gfile.makedirs(f"{export_dir}/{contract.ASSETS_EXTRA_DIR}")
    with tf.io.gfile.GFile(f"{export_dir}/{contract.MODEL_LABELS_FILE}", "w") as f:
        f.write(contract.labels_text(labels))
