"""Out-of-fold (OOF) predictions: the blessing's evidence, built once as a pipeline artefact.

The OutOfFold component runs k-fold cross-validation of the chosen head (the Tuner's
best hyperparameters, else configs.HYPERPARAMETERS) on the cached Transform embeddings
of every labelled photo, train and eval splits together (no photo is embedded again).
Each photo is predicted by the fold model that never saw it. The folds are stratified
and seeded (configs.CV_FOLDS, configs.CV_SEED); the folds train together
(models/fold_trainer.py), each for the chosen number of epochs.

The artefact is an `Examples` artefact with one split, "oof": gzipped tf.Examples with
the photo's `key` (its URI), `label`, `label_index`, `fold` and `scores` (the full
probability vector, one float per line of dict.txt). pipeline/gate.py judges them; a
data-health check (e.g. cleanlab's find_label_issues) can read the same file.
"""

import json
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts

from preprocessing import contract

SPLIT = "oof"
FILE = "predictions.tfrecord.gz"
SCORES_KEY = contract.SCORES_OUTPUT
FOLD_KEY = "fold"


@dataclass
class OutOfFoldPredictions:
    keys: list[str]
    labels: np.ndarray  # label indices [n]
    scores: np.ndarray  # probabilities [n, classes]
    folds: np.ndarray  # fold of each photo [n]

    @property
    def correct(self) -> int:
        """Photos whose highest score is their label."""
        return int((self.scores.argmax(axis=1) == self.labels).sum())


def out_of_fold_scores(x: np.ndarray, y: np.ndarray, num_classes: int, hp: dict, folds: np.ndarray) -> np.ndarray:
    """Scores [n, classes]: each photo's from the head trained on the other folds, all folds at once."""
    from models.fold_trainer import cross_validate_head

    return cross_validate_head(x, y, num_classes, hp, folds)[1]


def cross_validate(x: np.ndarray, y: np.ndarray, num_classes: int, hp: dict, k: int, seed: int) -> tuple:
    """(scores [n, classes], folds [n]) of k-fold CV with a seeded stratified split."""
    from models.tuning import stratified_folds

    folds = stratified_folds(y, min(k, len(y)), seed)
    return out_of_fold_scores(x, y, num_classes, hp, folds), folds


def write(path: str, predictions: OutOfFoldPredictions, labels: list[str]) -> None:
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for key, label, scores, fold in zip(
            predictions.keys, predictions.labels, predictions.scores, predictions.folds, strict=True
        ):
            feature = {
                contract.KEY_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode()])),
                contract.LABEL_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[labels[label].encode()])),
                contract.LABEL_INDEX_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
                FOLD_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(fold)])),
                SCORES_KEY: tf.train.Feature(float_list=tf.train.FloatList(value=scores.tolist())),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def read(uri: str) -> OutOfFoldPredictions:
    """The OutOfFold artefact at `uri` (its folder) as arrays."""
    keys, labels, scores, folds = [], [], [], []
    for record in tf.data.TFRecordDataset(f"{uri}/Split-{SPLIT}/{FILE}", compression_type="GZIP"):
        f = tf.train.Example.FromString(record.numpy()).features.feature
        keys.append(f[contract.KEY_KEY].bytes_list.value[0].decode())
        labels.append(f[contract.LABEL_INDEX_KEY].int64_list.value[0])
        scores.append(list(f[SCORES_KEY].float_list.value))
        folds.append(f[FOLD_KEY].int64_list.value[0])
    return OutOfFoldPredictions(keys, np.array(labels, np.int64), np.array(scores, np.float32), np.array(folds))


def split_files(examples: standard_artifacts.Examples, split: str) -> str:
    """The file pattern of one split of an Examples artefact."""
    return f"{artifact_utils.get_split_uri([examples], split)}/*"


@component
def OutOfFold(  # noqa: N802 (a TFX component's name)
    transformed_examples: InputArtifact[standard_artifacts.Examples],
    transform_graph: InputArtifact[standard_artifacts.TransformGraph],
    predictions: OutputArtifact[standard_artifacts.Examples],
    config: Parameter[str],
    hyperparameters: InputArtifact[standard_artifacts.HyperParameters] = None,  # optional: none without a Tuner
):
    """config (JSON): labels, folds, seed, hyperparameters (the Trainer's given values), train_steps."""
    import tensorflow_transform as tft
    from absl import logging

    from models.head import load_transformed
    from models.model import epochs_for_steps, merge_hyperparameters

    settings = json.loads(config)
    labels = list(settings["labels"])
    tuned = None
    if hyperparameters is not None:
        with tf.io.gfile.GFile(f"{hyperparameters.uri}/{contract.BEST_HYPERPARAMETERS_FILE}") as f:
            tuned = json.load(f)
    hp = merge_hyperparameters(settings.get("hyperparameters", {}), tuned)
    spec = tft.TFTransformOutput(transform_graph.uri).transformed_feature_spec()
    files = [split_files(transformed_examples, split) for split in ("train", "eval")]
    x, y, keys = load_transformed(files, spec)
    if settings.get("train_steps"):  # as the Trainer does: the step count over the data it trains on
        hp["epochs"] = epochs_for_steps(settings["train_steps"], len(y) - len(y) // settings["folds"], hp["batch_size"])
    if (y < 0).any():
        raise ValueError(
            f"{int((y < 0).sum())} photos have a label outside {contract.LABELS_FILE}: no out-of-fold accuracy"
        )
    scores, folds = cross_validate(x, y, len(labels), hp, int(settings["folds"]), int(settings["seed"]))
    result = OutOfFoldPredictions(keys, y, scores, folds)
    tf.io.gfile.makedirs(f"{predictions.uri}/Split-{SPLIT}")
    write(f"{predictions.uri}/Split-{SPLIT}/{FILE}", result, labels)
    predictions.split_names = artifact_utils.encode_split_names([SPLIT])
    predictions.set_int_custom_property("example_count", len(y))
    predictions.set_int_custom_property("correct", result.correct)
    predictions.set_int_custom_property("folds", int(folds.max()) + 1)
    predictions.set_int_custom_property("seed", int(settings["seed"]))
    logging.info("out-of-fold: %d of %d right over %d folds (%s)", result.correct, len(y), folds.max() + 1, hp)
