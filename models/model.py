"""The Trainer's run_fn: trains the new top layer on the Transform's bottleneck embeddings.

The head is dropout -> dense ReLU -> dropout -> dense softmax, sized from configs
(passed in the Trainer's custom_config). Training reads the transformed examples, so
the backbone is never run during training; TensorBoard logs go to the model run dir.
"""

from __future__ import annotations

import json
import logging

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from models import export
from pipeline import configs
from preprocessing import features


def build_head(embedding_size: int, num_classes: int, hp: dict) -> tf_keras.Model:
    inputs = tf_keras.Input((embedding_size,), name=features.EMBEDDING_KEY)
    x = tf_keras.layers.Dropout(hp["dropout"], seed=hp["seed"])(inputs)
    x = tf_keras.layers.Dense(hp["hidden_units"], activation="relu", name="hidden")(x)
    x = tf_keras.layers.Dropout(hp["dropout"], seed=hp["seed"] + 1)(x)
    outputs = tf_keras.layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = tf_keras.Model(inputs, outputs, name="head")
    model.compile(
        optimizer=tf_keras.optimizers.Adam(hp["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


def _dataset(files, data_accessor, tf_transform_output, batch_size: int, seed: int) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        files,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=features.LABEL_INDEX_KEY, shuffle_seed=seed),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    config = fn_args.custom_config or {}
    hp = {**configs.HYPERPARAMETERS, **config.get("hyperparameters", {})}
    labels = list(config["labels"])
    tf_keras.utils.set_random_seed(hp["seed"])
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    embedding_size = tf_transform_output.transformed_feature_spec()[features.EMBEDDING_KEY].shape[0]

    train = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"], hp["seed"])
    evaluation = _dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"], hp["seed"])
    head = build_head(embedding_size, len(labels), hp)
    head.summary(print_fn=logging.info)
    steps_per_epoch = min(fn_args.train_steps, int(config.get("steps_per_epoch", fn_args.train_steps)))
    history = head.fit(
        train,
        epochs=max(1, fn_args.train_steps // steps_per_epoch),
        steps_per_epoch=steps_per_epoch,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps,
        callbacks=[tf_keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch")],
        verbose=2,
    )
    logging.info("training history: %s", json.dumps({k: [float(x) for x in v] for k, v in history.history.items()}))
    export.save_serving_model(head, tf_transform_output, labels, fn_args.serving_model_dir)
