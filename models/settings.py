"""The head's and the Tuner's defaults: plain constants, no TensorFlow import.

They sit here, below pipeline/, beside the code that reads them (models/head.py,
models/model.py, models/tuning.py); pipeline/configs.py re-exports them, and the runners
override them per run through the Tuner's and the Trainer's custom_config.
"""

from __future__ import annotations

# ---- Reproducibility ------------------------------------------------------------------
# The same data, settings and seed give the same hyperparameters, model and scores on any
# machine, busy or not: the Tuner's budget is a number of trials, and one seed (--seed)
# drives the Tuner's search and folds and the head's initial weights, dropout and shuffling.
SEED = 0
DETERMINISTIC_OPS = True  # tf.config.experimental.enable_op_determinism() in the Tuner and the Trainer

# ---- Tuner: the head's hyperparameters (models/tuning.py) ------------------------------
# KerasTuner random search, k-fold cross-validation on the TRAIN split's embeddings only
# (the eval split stays untouched for the Evaluator). The first trial is the defaults below.
TUNER_FOLDS = 4
TUNER_MAX_TRIALS = 12  # the search's budget: this many trials on every machine (--tuner-trials)
# Opt-in (--tuner-budget SECONDS): also start no trial after this much search time. Off by
# default: a wall-clock budget makes the search, so the model, depend on the machine's speed and load.
TUNER_BUDGET_SECONDS: float | None = None
TUNER_MAX_EPOCHS = 60  # each trial trains this long per fold; the CV curve picks the epochs
# ...or stops sooner: once the folds' mean held-out loss has not improved for this many epochs
# (None: always TUNER_MAX_EPOCHS). Trials that peak early then cost a fraction of the epochs.
TUNER_PATIENCE: int | None = 15
TUNER_SEED = SEED
# What picks a trial's epochs and the best trial: mean held-out cross-entropy ("loss"),
# smoother than accuracy on small folds, or accuracy ("accuracy").
TUNER_SELECT_BY = "loss"
SEARCH_SPACE = {  # name: (choices, default)
    "hidden_units": ([0, 64, 256], 0),  # 0 = no hidden layer (dropout -> softmax)
    "dropout": ([0.0, 0.2, 0.4, 0.6], 0.2),
    "l2": ([0.0, 1e-4, 1e-3, 1e-2], 1e-3),  # weight decay on the dense kernels
    "learning_rate": ([3e-4, 1e-3, 3e-3], 1e-3),
}

# ---- Trainer: the head (models/model.py) -------------------------------------------
HYPERPARAMETERS = {  # without the Tuner (or what it does not tune): the seed's head shape
    "hidden_units": 256,
    "dropout": 0.3,
    "l2": 0.0,
    "learning_rate": 1e-3,
    "epochs": 12,
    "batch_size": 32,
    "seed": SEED,
}
