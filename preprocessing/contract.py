"""The names every part of tastebud agrees on: signatures, inputs and outputs, features, files.

Written by one side and read by another (`prepare` and the Trainer, the export and the
clients, the pipeline and the review), so each is spelt here once. Imports nothing of
the project and no TensorFlow: the web app and the clients use it without TF.

The serving SavedModel (models/export.py):
  serving_default   image_bytes, key -> key, label, score, scores, classes
  serving_examples  examples (serialized tf.Example) -> scores
  label_index       examples -> label_index (the label's line in dict.txt, -1 when absent)
The phone model (models/phone_export.py): serving_default, image -> scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

# Signatures of the serving SavedModel.
SERVING_SIGNATURE = "serving_default"
EXAMPLES_SIGNATURE = "serving_examples"
LABEL_SIGNATURE = "label_index"

# serving_default's inputs (TF Serving's REST instances and gRPC tensors carry these names).
IMAGE_INPUT = "image_bytes"  # encoded image bytes
KEY_INPUT = "key"  # any string, echoed back
EXAMPLES_INPUT = "examples"  # serving_examples' and label_index's: serialized tf.Example

# serving_default's outputs, one row per image.
KEY_OUTPUT = "key"
LABEL_OUTPUT = "label"  # the best class
SCORE_OUTPUT = "score"  # its score
SCORES_OUTPUT = "scores"  # every class's score, in dict.txt's order (serving_examples' and the phone model's too)
CLASSES_OUTPUT = "classes"  # dict.txt's labels, repeated per row
SERVING_OUTPUTS = (KEY_OUTPUT, LABEL_OUTPUT, SCORE_OUTPUT, SCORES_OUTPUT, CLASSES_OUTPUT)

# The phone model's input: uint8 [1, height, width, 3] RGB.
PHONE_IMAGE_INPUT = "image"

# Raw tf.Example features written by `tastebud prepare`.
IMAGE_KEY = "image"  # the original encoded bytes
LABEL_KEY = "label"  # the label string, as in dict.txt
KEY_KEY = "key"  # the image's URI: a stable key for mistakes and predictions
# Added by the EmbeddingCache component (pipeline/embedding_cache.py) before Transform.
CONTENT_KEY = "content_key"  # '<fingerprint prefix>:<SHA-256 of the image>' (preprocessing/embedding_cache.py)
CACHED_EMBEDDING_KEY = "cached_embedding"  # an earlier run's embedding of the same bytes, when there is one
# Transformed features produced by preprocessing_fn (CONTENT_KEY is passed through: the next run's cache).
EMBEDDING_KEY = "embedding"  # the backbone's pooled bottleneck
LABEL_INDEX_KEY = "label_index"  # line number of the label in dict.txt (-1: unknown); label_index's output

# What `tastebud prepare` writes beside the TFRecords (and `tastebud predict` beside its output).
LABELS_FILE = "dict.txt"  # one label a line; line i is class i
SUMMARY_FILE = "summary.json"  # photos per class and split, the accounting
REJECTED_FILE = "rejected.csv"  # uri,reason
SKIPPED_FILE = "skipped.csv"  # uri,reason
NOTES_FILE = "notes.csv"  # uri,note: photos written despite a decoder warning
NEAR_DUPLICATES_FILE = "near_duplicates.csv"  # similar photos, kept in one split
PREPARE_FILES = (LABELS_FILE, REJECTED_FILE, SKIPPED_FILE, NOTES_FILE, NEAR_DUPLICATES_FILE, SUMMARY_FILE)

# The Trainer's model artifact and the pushed serving model.
SERVING_MODEL_DIR = "Format-Serving"  # TFX's: the serving SavedModel inside the Trainer's artifact
HEAD_DIR, HEAD_FILE = "Format-Head", "head.h5"  # the head alone, beside it, for the phone model
SAVED_MODEL_FILE = "saved_model.pb"
ASSETS_EXTRA_DIR = "assets.extra"
MODEL_LABELS_FILE = f"{ASSETS_EXTRA_DIR}/{LABELS_FILE}"  # the serving model's labels, beside its graph
BEST_HYPERPARAMETERS_FILE = "best_hyperparameters.txt"  # TFX's Tuner output
TUNER_RESULTS_FILE = "tuner_results.json"  # TFX's Tuner output: every trial

# The phone model, pushed as <version>/model.tflite with labels.txt beside it (and inside it).
TFLITE_FILE = "model.tflite"
PHONE_LABELS_FILE = "labels.txt"

# The DataHealth component's report.
DATA_HEALTH_CSV = "data_health.csv"
DATA_HEALTH_JSON = "data_health.json"


def read_labels(text: str | bytes) -> list[str]:
    """A labels file's content (dict.txt, labels.txt) -> its labels: each line stripped, blank
    lines skipped; UTF-8 bytes or text, with or without a byte-order mark, LF or CRLF."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return [line.strip() for line in text.removeprefix("\ufeff").splitlines() if line.strip()]


def _open_local(path: str):
    return open(path, "rb")  # noqa: SIM115 (the caller's `with` closes it)


def read_labels_file(path: str, opener: Callable[[str], object] = _open_local) -> list[str]:
    """read_labels of a file. opener(path) gives a file to read (bytes or text) and close: a local
    file by default; Beam's FileSystems.open or tf.io.gfile.GFile for gs://."""
    with opener(path) as f:
        return read_labels(f.read())


def labels_text(labels: Iterable[str]) -> str:
    """The content of a labels file: one label a line, each ended by a newline."""
    return "".join(f"{label}\n" for label in labels)
