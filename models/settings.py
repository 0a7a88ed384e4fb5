"""The head's and the Tuner's defaults: plain constants, no TensorFlow import.

They sit here, below pipeline/, beside the code that reads them (models/head.py,
models/model.py, models/tuning.py); pipeline/configs.py re-exports them, and the runners
override them per run through the Tuner's and the Trainer's custom_config.
"""

from __future__ import annotations

from dataclasses import dataclass

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

# ---- The blessing's evidence: k-fold out-of-fold predictions (models/out_of_fold.py) ----
CV_FOLDS = 5
CV_SEED = 0  # seeds the stratified fold split

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


@dataclass(frozen=True)
class TunerSettings:
    """The Tuner's search (models/tuning.py reads these from its custom_config["tuner"])."""

    max_trials: int = TUNER_MAX_TRIALS  # the budget, as a count: the same trials on any machine
    budget_s: float | None = TUNER_BUDGET_SECONDS  # opt-in wall-clock cap (then the search depends on the machine)
    seed: int = TUNER_SEED


@dataclass(frozen=True)
class HeadSettings:
    """The new top layer: how it is chosen (the Tuner, or HYPERPARAMETERS as they are), trained and
    cross-validated for the blessing's out-of-fold evidence (models/out_of_fold.py)."""

    seed: int = SEED  # the head's initial weights, dropout and shuffling (and the Tuner's, in `tuner`)
    tune: bool = True  # False: no Tuner component
    tuner: TunerSettings = TunerSettings()
    train_steps: int | None = None  # None: the (tuned) epochs over the train split; a number overrides
    eval_steps: int = 5
    cv_folds: int = CV_FOLDS  # k of the out-of-fold predictions
    cv_seed: int = CV_SEED
    keras_verbosity: int = 0  # the Tuner's Keras fit() verbosity; nonzero also prints its tables

    def hyperparameters(self) -> dict:
        """The Trainer's given values: HYPERPARAMETERS with this seed (the Tuner's best values override)."""
        return {**HYPERPARAMETERS, "seed": self.seed}
