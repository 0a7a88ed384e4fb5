"""In-process predictions from a pushed serving model (no server needed).

The serving directory follows TF Serving's layout, <serving_dir>/<version>/; the
newest (largest) version is the one loaded, as TF Serving's default policy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from preprocessing import contract
from preprocessing.contract import SERVING_SIGNATURE


@dataclass
class Prediction:
    key: str
    label: str
    score: float
    scores: dict[str, float]

    def as_json(self) -> dict:
        return {
            contract.KEY_OUTPUT: self.key,
            contract.LABEL_OUTPUT: self.label,
            contract.SCORE_OUTPUT: self.score,
            contract.SCORES_OUTPUT: self.scores,
        }

    def as_outputs(self) -> dict:
        """This row as the serving signature returns it (key left out): classes and scores as lists."""
        return {
            contract.LABEL_OUTPUT: self.label,
            contract.SCORE_OUTPUT: self.score,
            contract.SCORES_OUTPUT: list(self.scores.values()),
            contract.CLASSES_OUTPUT: list(self.scores),
        }


def latest_version(serving_dir: str | Path, model_file: str = contract.SAVED_MODEL_FILE) -> Path:
    """The newest numeric version folder under a serving dir (or the dir itself if it is a model);
    model_file: what a version folder holds (model.tflite for the phone model's layout)."""
    root = Path(serving_dir)
    if (root / model_file).exists():
        return root
    versions = [p for p in root.iterdir() if p.name.isdigit() and (p / model_file).exists()] if root.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"no model versions under {root} (expected {root}/<version>/{model_file})")
    return max(versions, key=lambda p: int(p.name))


def rows_to_predictions(outputs: dict, count: int) -> list[Prediction]:
    """Turns the serving signature's batched outputs (numpy or lists) into Predictions."""

    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    predictions = []
    for i in range(count):
        classes = [text(c) for c in outputs[contract.CLASSES_OUTPUT][i]]
        scores = {c: float(s) for c, s in zip(classes, outputs[contract.SCORES_OUTPUT][i], strict=True)}
        key, label = text(outputs[contract.KEY_OUTPUT][i]), text(outputs[contract.LABEL_OUTPUT][i])
        predictions.append(Prediction(key, label, float(outputs[contract.SCORE_OUTPUT][i]), scores))
    return predictions


class LocalModel:
    """A loaded serving model; predict() takes encoded image bytes and keys."""

    def __init__(self, serving_dir: str | Path):
        import tensorflow as tf

        self.path = latest_version(serving_dir)
        self.version = self.path.name
        self._loaded = tf.saved_model.load(str(self.path))
        self._signature = self._loaded.signatures[SERVING_SIGNATURE]

    def predict(self, images: list[bytes], keys: list[str] | None = None) -> list[Prediction]:
        import tensorflow as tf

        keys = keys or [""] * len(images)
        outputs = self._signature(**{contract.IMAGE_INPUT: tf.constant(images), contract.KEY_INPUT: tf.constant(keys)})
        return rows_to_predictions({k: v.numpy() for k, v in outputs.items()}, len(images))
