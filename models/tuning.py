"""The Tuner component's tuner_fn: a bounded KerasTuner search for the head.

Every trial scores one set of hyperparameters (hidden units, including 0 = no hidden
layer; dropout; L2; learning rate) by stratified k-fold cross-validation on the TRAIN
split's embeddings, loaded into memory once (Transform already computed them, so a
fit takes about a second). The folds train together (models/fold_trainer.py) for up to
TUNER_MAX_EPOCHS, stopping TUNER_PATIENCE epochs after the folds' mean held-out loss last
improved, and record the held-out accuracy and loss after every epoch; the trial's epochs
are the peak of the mean curve (early stopping chosen by cross-validation) and its score
is the value there. The
eval split is never read: it stays the Evaluator's.

The oracle is KerasTuner's random search, seeded, whose first trial is the defaults in
models/settings.py SEARCH_SPACE. Its budget is a number of trials, so the same data, settings and
seed search the same trials on any machine; a wall-clock budget is opt-in
(models/settings.py TUNER_BUDGET_SECONDS, --tuner-budget) and makes the search depend on the
machine's speed. Trials are in the Tuner's `tuner_results` artefact (tuner_results.json)
and its log.
"""

from __future__ import annotations

import time

import keras_tuner
import numpy as np
import tensorflow_transform as tft
from absl import logging
from keras_tuner.engine import base_tuner
from keras_tuner.engine import trial as trial_module
from keras_tuner.engine.trial import TrialStatus
from tfx import v1 as tfx

from models import settings as defaults
from models.fold_trainer import cross_validate_heads
from models.head import load_embeddings, make_deterministic

OBJECTIVES = {"loss": ("cv_loss", "min"), "accuracy": ("cv_accuracy", "max")}  # defaults.TUNER_SELECT_BY


def search_space(space: dict = defaults.SEARCH_SPACE, max_epochs: int = defaults.TUNER_MAX_EPOCHS):
    """KerasTuner hyperparameters: each knob a Choice with its default; epochs filled in per trial."""
    hp = keras_tuner.HyperParameters()
    for name, (choices, default) in space.items():
        hp.Choice(name, choices, default=default, ordered=True)
    hp.Fixed("epochs", max_epochs)  # replaced by the epochs the trial's CV curve peaks at
    return hp


def oracle_seed(seed: int) -> int:
    """KerasTuner's seed for our seed >= 0: its Oracle takes 0 as "no seed" (`seed or random.randint(...)`)."""
    if seed < 0:
        raise ValueError(f"the seed must be 0 or more, got {seed}")
    return seed + 1


class BudgetedRandomSearch(keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is the defaults; with `budget_s`, no trial starts after that many seconds."""

    def __init__(self, budget_s: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.budget_s, self.started = budget_s, None

    def populate_space(self, trial_id):
        if self.started is None:
            self.started = time.monotonic()
            return {"status": trial_module.TrialStatus.RUNNING, "values": self.hyperparameters.values.copy()}
        if self.budget_s is not None and time.monotonic() - self.started > self.budget_s:
            logging.info("tuner: time budget of %.0f s spent after %d trials", self.budget_s, len(self.trials) - 1)
            return {"status": trial_module.TrialStatus.STOPPED, "values": None}
        return super().populate_space(trial_id)

    def _compute_values_hash(self, values):
        """Duplicates are judged without "epochs", which each trial fills in after sampling."""
        return super()._compute_values_hash({k: v for k, v in values.items() if k != "epochs"})


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number [n] for label indices y [n]: each class dealt round-robin after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    offset = 0
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        folds[members] = (np.arange(len(members)) + offset) % k
        offset += len(members)  # so small classes do not all start in fold 0
    return folds


def simplest_within_one_se(trials: list) -> object:
    """Breiman's one-standard-error rule: of the trials whose CV loss is within one standard
    error of the lowest, the simplest (no or fewer hidden units, then more L2, then more dropout).
    On small data CV losses are noisy; this keeps a random trial's luck from beating the defaults."""
    best = min(trials, key=lambda t: t.metrics.get_last_value("cv_loss"))
    limit = best.metrics.get_last_value("cv_loss") + best.metrics.get_last_value("cv_loss_se")
    eligible = [t for t in trials if t.metrics.get_last_value("cv_loss") <= limit]
    values = lambda t: t.hyperparameters.values  # noqa: E731
    return min(eligible, key=lambda t: (values(t)["hidden_units"], -values(t)["l2"], -values(t)["dropout"]))


def best_epoch(curve: np.ndarray, select_by: str) -> int:
    """Index of the first epoch with the lowest held-out loss (or highest accuracy) in curve [epochs, 2]."""
    return int(np.argmin(curve[:, 1]) if select_by == "loss" else np.argmax(curve[:, 0]))


class HeadTuner(base_tuner.BaseTuner):
    """Scores each trial by k-fold CV of models.head's procedure; fit args: x [n, d], y [n]."""

    def __init__(self, num_classes: int, folds: int, fixed: dict, select_by: str, patience: int | None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.folds, self.fixed, self.select_by = num_classes, folds, fixed, select_by
        self.patience = patience

    def search(self, *fit_args, **fit_kwargs) -> None:
        """Random search draws every trial without reading earlier scores, so the trials are drawn
        first, each head shape's trials are scored together in one graph (models/fold_trainer.py),
        and each trial is then reported to the oracle in order, as KerasTuner's loop would. With a
        time budget (opt-in), KerasTuner's own loop scores one trial at a time, so the clock can stop it."""
        if self.oracle.budget_s is not None:
            return super().search(*fit_args, **fit_kwargs)
        x, y = fit_kwargs["x"], fit_kwargs["y"]
        self.oracle.verbose = fit_kwargs.get("verbose", 1)
        self.on_search_begin()
        trials = []
        while (trial := self.oracle.create_trial(f"{self.tuner_id}-{len(trials)}")).status == TrialStatus.RUNNING:
            trials.append(trial)
        for trial, metrics in zip(trials, self.score(trials, x, y), strict=True):
            self.on_trial_begin(trial)
            self.oracle.update_trial(trial.trial_id, metrics)
            trial.status = TrialStatus.COMPLETED  # as KerasTuner's loop marks a trial that ran
            self.on_trial_end(trial)
        self.on_search_end()

    def run_trial(self, trial, x: np.ndarray, y: np.ndarray, verbose: int = 1) -> dict:
        """verbose: KerasTuner's display level, set by search(); the CV fits themselves are silent."""
        return self.score([trial], x, y)[0]

    def score(self, trials: list, x: np.ndarray, y: np.ndarray) -> list[dict]:
        """Each trial's CV metrics; the trials of one head shape train together. Sets each trial's epochs."""
        hps = [{**self.fixed, **t.hyperparameters.values} for t in trials]
        folds = stratified_folds(y, min(self.folds, len(y)), self.fixed["seed"])
        metrics: dict[int, dict] = {}
        for hidden in sorted({hp["hidden_units"] for hp in hps}):
            started = time.monotonic()
            members = [i for i, hp in enumerate(hps) if hp["hidden_units"] == hidden]
            cv = cross_validate_heads(x, y, self.num_classes, [hps[i] for i in members], folds, self.patience)
            for i, (per_fold, _) in zip(members, cv, strict=True):
                metrics[i] = self._metrics(trials[i], per_fold)
            logging.info(
                "tuner: %d trials of %d hidden units in %.1f s", len(members), hidden, time.monotonic() - started
            )
        return [metrics[i] for i in range(len(trials))]

    def _metrics(self, trial, per_fold: np.ndarray) -> dict:
        """A trial's score from its per-fold curves [folds, epochs, 2]: the mean curve's best epoch."""
        curve = per_fold.mean(axis=0)
        best = best_epoch(curve, self.select_by)
        loss_se = float(per_fold[:, best, 1].std() / np.sqrt(len(per_fold)))
        trial.hyperparameters.values["epochs"] = best + 1
        logging.info(
            "tuner: trial %s %s -> CV accuracy %.3f, loss %.3f at %d epochs",
            trial.trial_id,
            trial.hyperparameters.values,
            curve[best, 0],
            curve[best, 1],
            best + 1,
        )
        return {"cv_accuracy": float(curve[best, 0]), "cv_loss": float(curve[best, 1]), "cv_loss_se": loss_se}

    def get_best_hyperparameters(self, num_trials: int = 1) -> list:
        """By loss: the one-standard-error choice first, then the rest by score (TFX keeps the first)."""
        ranked = self.oracle.get_best_trials(len(self.oracle.trials))
        if self.select_by == "loss" and ranked:
            chosen = simplest_within_one_se(ranked)
            ranked = [chosen] + [t for t in ranked if t is not chosen]
        return [t.hyperparameters for t in ranked[:num_trials]]


def make_tuner(num_classes: int, directory: str, settings: dict | None = None) -> HeadTuner:
    """The tuner with models/settings.py's defaults; settings may override folds, max_trials, budget_s (None: no
    time limit), seed, max_epochs, patience. The seed drives the oracle's sampling and every trial's folds and fits."""
    s = {
        "folds": defaults.TUNER_FOLDS,
        "max_trials": defaults.TUNER_MAX_TRIALS,
        "budget_s": defaults.TUNER_BUDGET_SECONDS,
        "seed": defaults.TUNER_SEED,
        "max_epochs": defaults.TUNER_MAX_EPOCHS,
        "select_by": defaults.TUNER_SELECT_BY,
        "patience": defaults.TUNER_PATIENCE,
        **(settings or {}),
    }
    oracle = BudgetedRandomSearch(
        budget_s=s["budget_s"],
        objective=keras_tuner.Objective(*OBJECTIVES[s["select_by"]]),
        max_trials=s["max_trials"],
        seed=oracle_seed(s["seed"]),
        hyperparameters=search_space(max_epochs=s["max_epochs"]),
        tune_new_entries=False,
        allow_new_entries=False,
    )
    fixed = {k: v for k, v in defaults.HYPERPARAMETERS.items() if k not in defaults.SEARCH_SPACE}
    fixed["seed"] = s["seed"]  # folds, initial weights, dropout and shuffling of every trial
    return HeadTuner(
        num_classes,
        s["folds"],
        fixed,
        s["select_by"],
        s["patience"],
        oracle=oracle,
        directory=directory,
        project_name="head",
    )


def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    """TFX's entry point: the tuner and the train split's embeddings to search on."""
    config = fn_args.custom_config or {}
    make_deterministic((config.get("tuner") or {}).get("seed", defaults.TUNER_SEED))
    transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    x, y = load_embeddings(fn_args.train_files, transform_output.transformed_feature_spec())
    logging.info("tuner: %d train embeddings of size %d", *x.shape)
    tuner = make_tuner(len(config["labels"]), fn_args.working_dir, config.get("tuner"))
    verbose = int(config.get("verbose", 0))  # the runner's --verbose, as Keras fit() verbosity
    if not verbose:  # quiet output: no search-space and results tables on stdout (--verbose shows them)
        tuner.search_space_summary = tuner.results_summary = lambda *args, **kwargs: None
    return tfx.components.TunerFnResult(tuner=tuner, fit_kwargs={"x": x, "y": y, "verbose": verbose})
