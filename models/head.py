"""The head on the bottleneck embeddings, shared by the Tuner, the Trainer and bench/.

One procedure everywhere, so cross-validation scores what the Trainer will do:
  [dropout ->] (dense ReLU -> dropout ->) dense softmax, L2 on the dense kernels,
  Adam, minibatches of `batch_size`, `epochs` passes over the data.
hidden_units = 0 drops the hidden layer (softmax regression on the embedding);
hidden_units > 0 is the seed's shape: dropout -> dense ReLU -> dropout -> softmax.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras

from pipeline import configs
from preprocessing import features

# Minibatch steps run inside one graph call: the head is tiny, so per-step Python
# overhead would otherwise dominate (measured: several times slower on 2 cores).
STEPS_PER_EXECUTION = 64


def make_deterministic(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow and, with configs.DETERMINISTIC_OPS, asks TensorFlow for
    deterministic op implementations (it then refuses the few ops that have none)."""
    tf_keras.utils.set_random_seed(seed)
    if configs.DETERMINISTIC_OPS:
        tf.config.experimental.enable_op_determinism()


def build_head(embedding_size: int, num_classes: int, hp: dict) -> tf_keras.Model:
    """A compiled head: float [batch, embedding_size] -> softmax scores [batch, num_classes]."""
    regularizer = tf_keras.regularizers.L2(hp["l2"]) if hp.get("l2") else None
    inputs = tf_keras.Input((embedding_size,), name=features.EMBEDDING_KEY)
    x = tf_keras.layers.Dropout(hp["dropout"], seed=hp["seed"])(inputs)
    if hp["hidden_units"] > 0:
        x = tf_keras.layers.Dense(hp["hidden_units"], activation="relu", kernel_regularizer=regularizer, name="hidden")(
            x
        )
        x = tf_keras.layers.Dropout(hp["dropout"], seed=hp["seed"] + 1)(x)
    outputs = tf_keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=regularizer, name="scores")(x)
    model = tf_keras.Model(inputs, outputs, name="head")
    model.compile(
        optimizer=tf_keras.optimizers.Adam(hp["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


class CurveTrainer:
    """fit_head's procedure as one compiled graph, for cross-validation: fast, no Keras fit loop.

    Per epoch: a seeded shuffle, minibatches of hp["batch_size"] (the last one partial),
    Adam on mean cross-entropy + L2, then held-out accuracy and cross-entropy in one
    forward pass. The
    graph is traced once per hyperparameter set; each fold restarts from the same
    initial weights and a zeroed optimizer.
    """

    def __init__(self, embedding_size: int, num_classes: int, hp: dict):
        tf_keras.utils.set_random_seed(hp["seed"])
        self.hp = hp
        self.model = build_head(embedding_size, num_classes, hp)
        self.optimizer = self.model.optimizer
        self.optimizer.build(self.model.trainable_variables)
        self.initial = [v.numpy() for v in self.model.variables]
        spec = [tf.TensorSpec([None, embedding_size], tf.float32), tf.TensorSpec([None], tf.int64)]
        self._train = tf.function(self._epochs, input_signature=spec * 2)

    def _epochs(self, x, y, x_held_out, y_held_out):
        n, batch = tf.shape(x)[0], self.hp["batch_size"]
        loss_fn = tf_keras.losses.SparseCategoricalCrossentropy()
        curve = tf.TensorArray(tf.float32, size=self.hp["epochs"], element_shape=[2])
        for epoch in tf.range(self.hp["epochs"]):
            order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=[self.hp["seed"], epoch])
            for start in tf.range(0, n, batch):
                index = order[start : start + batch]
                with tf.GradientTape() as tape:
                    loss = loss_fn(tf.gather(y, index), self.model(tf.gather(x, index), training=True))
                    loss += tf.add_n(self.model.losses) if self.model.losses else 0.0
                variables = self.model.trainable_variables
                self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            scores = self.model(x_held_out, training=False)
            accuracy = tf.reduce_mean(tf.cast(tf.argmax(scores, axis=1) == y_held_out, tf.float32))
            curve = curve.write(epoch, tf.stack([accuracy, loss_fn(y_held_out, scores)]))
        return curve.stack()

    def curve(self, x: np.ndarray, y: np.ndarray, x_held_out: np.ndarray, y_held_out: np.ndarray) -> np.ndarray:
        """Trains from the initial weights on (x [n, d], y [n]).

        Returns [epochs, 2]: held-out accuracy and mean cross-entropy after each epoch."""
        for variable, value in zip(self.model.variables, self.initial, strict=True):
            variable.assign(value)
        for variable in self.optimizer.variables():
            variable.assign(tf.zeros_like(variable))
        return self._train(x, y, x_held_out, y_held_out).numpy()


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
    """load_embeddings, plus each photo's key (its URI) when with_keys."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    names = (features.EMBEDDING_KEY, features.LABEL_INDEX_KEY) + ((features.KEY_KEY,) if with_keys else ())
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
        xs.append(batch[features.EMBEDDING_KEY].numpy())
        ys.append(np.reshape(batch[features.LABEL_INDEX_KEY].numpy(), [-1]))
        if with_keys:
            keys += [k.decode() for k in np.reshape(batch[features.KEY_KEY].numpy(), [-1])]
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64), keys if with_keys else None
