"""The Trainer's run_fn: trains the head on the Transform's bottleneck embeddings.

The head (models/head.py) comes from the Tuner's best hyperparameters when the
pipeline has a Tuner, else from models/settings.py HYPERPARAMETERS (the seed's shape: dropout ->
dense ReLU -> dropout -> softmax). It trains on the whole train split for the tuned
number of epochs (or --train-steps), reading the embeddings, never running the
backbone; TensorBoard logs (with the eval split as validation) go to the model run dir.
"""

from __future__ import annotations

import json
import logging
import math

import keras_tuner
import tensorflow_transform as tft
import tf_keras
from tfx import v1 as tfx

from models import export, phone_export
from models.head import fit_head, load_embeddings, make_deterministic
from models.settings import HYPERPARAMETERS


def hyperparameters(fn_args: tfx.components.FnArgs) -> dict:
    """The defaults (models/settings.py), then the Trainer's custom_config, then the Tuner's best values."""
    return merge_hyperparameters((fn_args.custom_config or {}).get("hyperparameters", {}), fn_args.hyperparameters)


def merge_hyperparameters(given: dict, tuned_config: dict | None) -> dict:
    """HYPERPARAMETERS (models/settings.py), then `given`, then the Tuner's best values (a KerasTuner config)."""
    hp = {**HYPERPARAMETERS, **given}
    if tuned_config:
        hp.update(keras_tuner.HyperParameters.from_config(tuned_config).values)
    return hp


def epochs_for_steps(train_steps: int, examples: int, batch_size: int) -> int:
    """Epochs that make about `train_steps` minibatch steps over `examples`."""
    return max(1, round(train_steps / math.ceil(examples / batch_size)))


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    labels = list(fn_args.custom_config["labels"])
    hp = hyperparameters(fn_args)
    make_deterministic(hp["seed"])
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    spec = tf_transform_output.transformed_feature_spec()
    x, y = load_embeddings(fn_args.train_files, spec)
    x_eval, y_eval = load_embeddings(fn_args.eval_files, spec)
    if fn_args.train_steps:  # an explicit step count overrides the (tuned) epochs
        hp["epochs"] = epochs_for_steps(fn_args.train_steps, len(x), hp["batch_size"])
    logging.info("head hyperparameters: %s (%d train embeddings)", json.dumps(hp), len(x))
    head = fit_head(
        x,
        y,
        len(labels),
        hp,
        callbacks=[tf_keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch")],
        validation_data=(x_eval, y_eval),
    )
    head.summary(print_fn=logging.info)
    phone_export.save_head(head, fn_args.serving_model_dir)  # before the export attaches the Transform layer
    export.save_serving_model(head, tf_transform_output, labels, fn_args.serving_model_dir)
