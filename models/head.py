"""The head on the bottleneck embeddings, shared by the Tuner, the Trainer and bench/.

One procedure everywhere, so cross-validation (models/fold_trainer.py, the same steps for all
folds at once) scores what the Trainer (fit_head, Keras fit) will do:
  [dropout ->] (dense ReLU -> dropout ->) dense softmax, L2 on the dense kernels,
  Adam, minibatches of `batch_size`, `epochs` passes over the data.
hidden_units = 0 drops the hidden layer (softmax regression on the embedding);
hidden_units > 0 is the seed's shape: dropout -> dense ReLU -> dropout -> softmax.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras

from models.settings import DETERMINISTIC_OPS
from preprocessing import contract

# Minibatch steps run inside one graph call: the head is tiny, so per-step Python
# overhead would otherwise dominate (measured: several times slower on 2 cores).
STEPS_PER_EXECUTION = 64


def make_deterministic(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow and, with DETERMINISTIC_OPS (models/settings.py), asks TensorFlow for
    deterministic op implementations (it then refuses the few ops that have none)."""
    tf_keras.utils.set_random_seed(seed)
    if DETERMINISTIC_OPS:
        tf.config.experimental.enable_op_determinism()


def build_head(embedding_size: int, num_classes: int, hp: dict) -> tf_keras.Model:
    """A compiled head: float [batch, embedding_size] -> softmax scores [batch, num_classes]."""
    regularizer = tf_keras.regularizers.L2(hp["l2"]) if hp.get("l2") else None
    inputs = tf_keras.Input((embedding_size,), name=contract.EMBEDDING_KEY)
    x = tf_keras.layers.Dropout(hp["dropout"], seed=hp["seed"])(inputs)
    if hp["hidden_units"] > 0:
        x = tf_keras.layers.Dense(hp["hidden_units"], activation="relu", kernel_regularizer=regularizer, name="hidden")(
            x
        )
        x = tf_keras.layers.Dropout(hp["dropout"], seed=hp["seed"] + 1)(x)
    outputs = tf_keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=regularizer, name=contract.SCORES_OUTPUT
    )(x)
    model = tf_keras.Model(inputs, outputs, name="head")
    model.compile(
        optimizer=tf_keras.optimizers.Adam(hp["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def fit_head(
    x: np.ndarray, y: np.ndarray, num_classes: int, hp: dict, callbacks: list | None = None, **fit_kwargs
) -> tf_keras.Model:
    """Trains a fresh head on embeddings x [n, d] float32 and label indices y [n] int for hp["epochs"]."""
    tf_keras.utils.set_random_seed(hp["seed"])
    model = build_head(x.shape[1], num_classes, hp)
    model.fit(
        x,
        y,
        batch_size=hp["batch_size"],
        epochs=hp["epochs"],
        shuffle=True,
        callbacks=callbacks or [],
        verbose=0,
        **fit_kwargs,
    )
    return model


def load_embeddings(file_patterns: list[str], transformed_feature_spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Transform's output files (gzipped tf.Examples) -> (embeddings [n, d] float32, label indices [n] int64)."""
    x, y, _ = load_transformed(file_patterns, transformed_feature_spec, with_keys=False)
    return x, y


def load_transformed(
    file_patterns: list[str], transformed_feature_spec: dict, with_keys: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """load_embeddings, plus each photo's key (its URI) when with_keys. Rows come sorted by
    key, so the folds and the model do not depend on the order Beam wrote them in."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    names = (contract.EMBEDDING_KEY, contract.LABEL_INDEX_KEY, contract.KEY_KEY)
    missing = [k for k in names if k not in transformed_feature_spec]
    if missing:
        raise ValueError(f"the Transform output has no {missing} feature: rerun Transform (e.g. --no-cache)")
    spec = {k: transformed_feature_spec[k] for k in names}
    dataset = (
        tf.data.TFRecordDataset(files, compression_type="GZIP")
        .batch(1024)
        .map(lambda batch: tf.io.parse_example(batch, spec))
    )
    xs, ys, keys = [], [], []
    for batch in dataset:
        xs.append(batch[contract.EMBEDDING_KEY].numpy())
        ys.append(np.reshape(batch[contract.LABEL_INDEX_KEY].numpy(), [-1]))
        keys += [k.decode() for k in np.reshape(batch[contract.KEY_KEY].numpy(), [-1])]
    order = np.argsort(np.array(keys, dtype=object), kind="stable")
    x, y = np.concatenate(xs).astype(np.float32)[order], np.concatenate(ys).astype(np.int64)[order]
    return x, y, [keys[i] for i in order] if with_keys else None
