"""The yardstick for time to model: what a user would write with plain Keras, no TFX.

    ./dev python -m bench.keras_script FOLDER --out DIR [--backbone efficientnet_lite0]

FOLDER holds one sub-folder per class of JPEGs. The script lists them, splits 90/10
(by a hash of the path, as `tastebud prepare` does), decodes and resizes with tf.data,
embeds with the same backbone and weights as the pipeline (batch 32), trains the same
head (models/head.py, configs.HYPERPARAMETERS: the pipeline's head without its Tuner),
reports eval accuracy, and saves one SavedModel: image bytes -> label and scores.

It does none of what the pipeline adds (validation, accounting, EXIF orientation,
ML Metadata, TFMA, blessing, versioned push); bench/time_to_model.py times the two
side by side. Prints one JSON line: {"seconds": ..., "accuracy": ..., "images": ...}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

BATCH = 32


def list_photos(folder: Path) -> tuple[list[str], list[int], list[str]]:
    """(paths, label indices, class names) of FOLDER/<class>/*.jpg, classes sorted by name."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    paths, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((folder / name).glob("*.jpg")):
            paths.append(str(path))
            labels.append(index)
    return paths, labels, classes


def is_eval(path: str) -> bool:
    return int(hashlib.sha256(path.encode()).hexdigest(), 16) % 10 == 0


def embed(paths: list[str], backbone, extractor) -> np.ndarray:  # noqa: F821
    """Decodes, resizes and embeds JPEG files: [n, embedding_size] float32."""
    import tensorflow as tf

    size = backbone.input_size

    def load(path):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        return tf.image.resize(image, [size, size], antialias=True)

    pixels = tf.data.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return extractor.predict(pixels.batch(BATCH).prefetch(2), verbose=0)


def save_serving_model(backbone, extractor, head, classes: list[str], out: str) -> None:
    """image bytes [n] -> label [n], scores [n, classes]: decode, resize, backbone, head."""
    import tensorflow as tf

    names = tf.constant(classes)
    module = tf.Module()
    module.weights = list(extractor.variables) + list(head.variables)  # not the Keras objects: faster to save

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")], autograph=False)
    def serve(image_bytes):
        def one(data):
            image = tf.io.decode_jpeg(data, channels=3)
            return tf.image.resize(image, [backbone.input_size] * 2, antialias=True)

        pixels = tf.map_fn(one, image_bytes, fn_output_signature=tf.float32)
        scores = head(extractor(pixels, training=False), training=False)
        return {"label": tf.gather(names, tf.argmax(scores, axis=-1)), "scores": scores}

    tf.saved_model.save(module, out, signatures={"serving_default": serve})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", required=True)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    import numpy as np

    from models.head import fit_head
    from pipeline import configs
    from preprocessing.backbones import get_backbone

    backbone = get_backbone(args.backbone)
    extractor = backbone.build_feature_extractor()
    paths, labels, classes = list_photos(args.folder)
    x, y = embed(paths, backbone, extractor), np.array(labels)
    evaluation = np.array([is_eval(p) for p in paths])
    head = fit_head(x[~evaluation], y[~evaluation], len(classes), configs.HYPERPARAMETERS)
    _, accuracy = head.evaluate(x[evaluation], y[evaluation], verbose=0)
    save_serving_model(backbone, extractor, head, classes, args.out)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "accuracy": float(accuracy), "images": len(paths)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
