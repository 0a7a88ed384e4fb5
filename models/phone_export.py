"""The phone model's graph: a decoded RGB frame -> class scores, as a SavedModel for the TFLite converter.

The pushed serving graph starts from JPEG bytes (DecodeJpeg, string ops, the Transform
graph), which LiteRT cannot run, and a phone hands over decoded camera frames anyway.
So the phone model is its own small SavedModel, from the same two pieces:

  image  uint8 [1, height, width, 3], RGB, 0-255, any height and width, upright
         (EXIF orientation already applied: a phone's camera API does that)
    -> resize to the backbone's input size, antialiased bilinear as in training
       (preprocessing/resize.py: tf.image.resize's filter as two matrix products)
    -> the traced backbone, the very function Transform embedded with (its own
       normalisation, (x - 127) / 128 for Lite0, inside)
    -> the head the Trainer trained (saved beside the serving model, HEAD_DIR)
  scores float32 [1, classes], softmax, in dict.txt's order
"""

from __future__ import annotations

import os

import tensorflow as tf
import tf_keras

from preprocessing import traced_backbone
from preprocessing.backbones import get_backbone
from preprocessing.contract import HEAD_DIR, HEAD_FILE, PHONE_IMAGE_INPUT, SCORES_OUTPUT, SERVING_SIGNATURE
from preprocessing.resize import resize_antialiased


def head_path(model_uri: str) -> str:
    return f"{model_uri}/{HEAD_DIR}/{HEAD_FILE}"


def save_head(head: tf_keras.Model, serving_model_dir: str) -> None:
    """The Trainer's head alone (tens of milliseconds), for the phone model. serving_model_dir is
    the Trainer's Format-Serving folder; the head goes beside it."""
    path = head_path(os.path.dirname(serving_model_dir.rstrip("/")))
    tf.io.gfile.makedirs(os.path.dirname(path))
    head.save(path, save_format="h5", include_optimizer=False)


def save_phone_model(model_uri: str, backbone_name: str, backbone_weights: str | None, export_dir: str) -> None:
    """Writes the phone SavedModel (one signature, serving_default: image -> scores) to export_dir."""
    if not tf.io.gfile.exists(head_path(model_uri)):
        raise FileNotFoundError(
            f"{head_path(model_uri)} not found: this Trainer output predates the phone export; "
            "run local_runner.py with --no-cache once to retrain the head"
        )
    size = get_backbone(backbone_name).input_size
    module = tf.Module()
    module.backbone = traced_backbone.load(backbone_name, backbone_weights or None)
    module.head = tf_keras.models.load_model(head_path(model_uri), compile=False)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name=PHONE_IMAGE_INPUT)], autograph=False)
    def scores(image):
        pixels = tf.ensure_shape(resize_antialiased(tf.cast(image[0], tf.float32), size), [size, size, 3])
        return {SCORES_OUTPUT: module.head(module.backbone.embed(pixels[None]), training=False)}

    tf.saved_model.save(module, export_dir, signatures={SERVING_SIGNATURE: scores.get_concrete_function()})
