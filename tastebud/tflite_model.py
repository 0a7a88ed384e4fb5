"""The phone model on this machine: `tastebud predict IMAGE... --model FILE.tflite`.

The file runs in LiteRT's interpreter (the `ai-edge-litert` package: the runtime phones
ship, kept by Google AI Edge; TensorFlow 2.21's own tf.lite.Interpreter still works but
warns that it is deprecated and due for deletion). What a phone's camera API does
before the model, decoding the photo and turning it upright, is done here by the
serving graph's own ops (preprocessing/images.py's decode_upright: EXIF orientation,
and the DCT-scaled decode of big JPEGs), so the model sees the frame the SavedModel
resizes. The labels and the input size come from the file's metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models import tflite_metadata
from preprocessing.contract import PHONE_IMAGE_INPUT, SCORES_OUTPUT, TFLITE_FILE
from tastebud.inference import Prediction

_DECODERS: dict[int, object] = {}


def is_tflite(path: str | Path) -> bool:
    return str(path).endswith(".tflite")


def phone_model_in(path: str) -> str:
    """`--model` as given, or the phone model a folder holds: <folder>/model.tflite, or the
    latest <version>/model.tflite under OUT/tflite/<model>/ (the layout PhoneExport pushes)."""
    from tastebud.inference import latest_version

    if "://" in path or is_tflite(path) or not Path(path).is_dir():
        return path
    try:
        return str(latest_version(path, TFLITE_FILE) / TFLITE_FILE)
    except FileNotFoundError:
        return path


def decode_frame(encoded: bytes, size: int) -> np.ndarray:
    """Encoded image -> uint8 [height, width, 3], upright, as the serving graph decodes it for a
    `size`-pixel backbone."""
    import tensorflow as tf

    from preprocessing.images import decode_upright

    if size not in _DECODERS:
        _DECODERS[size] = tf.function(
            lambda e: decode_upright(e, size), input_signature=[tf.TensorSpec([], tf.string)], autograph=False
        )
    return _DECODERS[size](tf.constant(encoded)).numpy()


class TFLiteModel:
    """A .tflite written by the pipeline's PhoneExport; predict() takes encoded images, as LocalModel's."""

    def __init__(self, path: str | Path, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such .tflite file: {self.path}")
        content = self.path.read_bytes()
        self.metadata = tflite_metadata.read_metadata(content)
        self.labels, self.version = self.metadata.labels, self.metadata.version
        from tastebud.quiet import native_stderr_quiet

        self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
        self._run = self._interpreter.get_signature_runner()
        with native_stderr_quiet():  # LiteRT applies XNNPACK, and says so, on the first allocation
            self._run(
                **{PHONE_IMAGE_INPUT: np.zeros((1, self.metadata.input_size, self.metadata.input_size, 3), np.uint8)}
            )

    def scores(self, frame: np.ndarray) -> np.ndarray:
        """uint8 [height, width, 3] -> float32 [classes]."""
        return self._run(**{PHONE_IMAGE_INPUT: frame[None]})[SCORES_OUTPUT][0]

    def predict_frames(self, frames: list[np.ndarray], keys: list[str]) -> list[Prediction]:
        predictions = []
        for frame, key in zip(frames, keys, strict=True):
            scores = self.scores(frame)
            best = int(np.argmax(scores))
            by_label = {label: float(s) for label, s in zip(self.labels, scores, strict=True)}
            predictions.append(Prediction(key, self.labels[best], float(scores[best]), by_label))
        return predictions

    def predict(self, images: list[bytes], keys: list[str] | None = None) -> list[Prediction]:
        keys = keys or [""] * len(images)
        return self.predict_frames([decode_frame(image, self.metadata.input_size) for image in images], keys)


class TFLiteClient:
    """`tastebud predict --model FILE.tflite`: the PredictionClient of clients.py for a phone model."""

    def __init__(self, path: str | Path, **_):
        self._model = TFLiteModel(path)

    def version(self) -> str:
        return self._model.version

    def predict(self, images: list[bytes], keys: list[str]) -> tuple[str, list[Prediction]]:
        return self._model.version, self._model.predict(images, keys)
