"""The Tuner's pieces on small in-memory data: folds, the seeded search and its trial budget, the Trainer's
hyperparameters."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models import model, tuning
from pipeline import configs


def _blobs(per_class: int = 30, classes: int = 3, dims: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, dims))
    y = np.repeat(np.arange(classes), per_class)
    return (centres[y] + rng.normal(0, 1, (len(y), dims))).astype(np.float32), y.astype(np.int64)


def test_stratified_folds_spread_every_class_evenly():
    y = np.array([0] * 10 + [1] * 7 + [2] * 3)
    folds = tuning.stratified_folds(y, 4, seed=0)
    for label in range(3):
        per_fold = np.bincount(folds[y == label], minlength=4)
        assert per_fold.max() - per_fold.min() <= 1
    assert np.array_equal(folds, tuning.stratified_folds(y, 4, seed=0))
    assert not np.array_equal(folds, tuning.stratified_folds(y, 4, seed=1))


def test_search_starts_from_the_defaults_and_picks_epochs_by_cv(tmp_path):
    x, y = _blobs()
    tuner = tuning.make_tuner(3, str(tmp_path), {"max_trials": 3, "budget_s": 600, "max_epochs": 60})
    tuner.search(x=x, y=y)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert len(trials) == 3
    defaults = {name: default for name, (_, default) in configs.SEARCH_SPACE.items()}
    assert {k: v for k, v in trials[0].hyperparameters.values.items() if k != "epochs"} == defaults
    best = tuner.get_best_hyperparameters()[0].values
    assert 1 <= best["epochs"] <= 60 and best["hidden_units"] in (0, 64, 256)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    assert best_trial.metrics.get_last_value("cv_accuracy") > 0.9  # well-separated blobs
    assert best_trial.score == best_trial.metrics.get_last_value("cv_loss")  # selected by held-out loss
    saved = list(tmp_path.rglob("trial.json"))  # inspectable: KerasTuner's record of every trial
    assert len(saved) == 3 and "cv_accuracy" in saved[0].read_text()


def test_batched_search_scores_and_picks_as_one_trial_at_a_time(tmp_path):
    """Without a time budget the trials of one head shape train together (models/fold_trainer.py);
    KerasTuner's own loop (used with a budget) must find the same trials, scores and best."""
    x, y = _blobs(per_class=10)
    settings = {"max_trials": 5, "max_epochs": 8}
    batched = tuning.make_tuner(3, str(tmp_path / "batched"), settings)
    batched.search(x=x, y=y)
    looped = tuning.make_tuner(3, str(tmp_path / "looped"), settings | {"budget_s": 1e9})
    looped.search(x=x, y=y)
    trials = sorted(batched.oracle.trials.values(), key=lambda t: t.trial_id)
    assert len(trials) == 5 and {t.status for t in trials} == {"COMPLETED"}
    assert all(t.score == t.metrics.get_last_value("cv_loss") for t in trials)  # scored by the oracle
    assert [values for values, _ in _trials(batched)] == [values for values, _ in _trials(looped)]
    np.testing.assert_allclose([s for _, s in _trials(batched)], [s for _, s in _trials(looped)], atol=1e-5)
    assert batched.get_best_hyperparameters()[0].values == looped.get_best_hyperparameters()[0].values


def test_an_exhausted_budget_stops_after_the_first_trial(tmp_path):
    x, y = _blobs(per_class=12)
    tuner = tuning.make_tuner(3, str(tmp_path), {"max_trials": 10, "budget_s": 0.0, "max_epochs": 3})
    tuner.search(x=x, y=y)
    assert len(tuner.oracle.trials) == 1


def _trials(tuner) -> list[tuple[dict, float]]:
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    return [(t.hyperparameters.values, t.metrics.get_last_value("cv_loss")) for t in trials]


def test_the_same_seed_searches_the_same_trials_to_the_same_scores(tmp_path):
    x, y = _blobs(per_class=8)

    def search(name: str, seed: int) -> list[tuple[dict, float]]:
        tuner = tuning.make_tuner(3, str(tmp_path / name), {"max_trials": 2, "max_epochs": 4, "seed": seed})
        tuner.search(x=x, y=y)
        return _trials(tuner)

    first = search("a", 0)
    # Before: KerasTuner read seed 0 as "no seed" and drew a random one, so each search differed.
    assert search("b", 0) == first
    assert search("c", 1)[1][0] != first[1][0]  # another seed, another random trial


def test_the_budget_is_trials_not_seconds(tmp_path, monkeypatch):
    """By default no clock stops the search: every trial runs however slow the machine is."""
    x, y = _blobs(per_class=8)
    clock = iter(range(0, 10**9, 1000))  # every look at the clock: 1000 s later
    monkeypatch.setattr(tuning.time, "monotonic", lambda: next(clock))
    tuner = tuning.make_tuner(3, str(tmp_path), {"max_trials": 3, "max_epochs": 2})
    tuner.search(x=x, y=y)
    assert configs.TUNER_BUDGET_SECONDS is None and len(tuner.oracle.trials) == 3


def test_trainer_takes_the_tuners_values_over_the_defaults():
    import keras_tuner
    from tfx import v1 as tfx

    hp = tuning.search_space()
    hp.values.update({"hidden_units": 0, "epochs": 7})
    fn_args = tfx.components.FnArgs(
        custom_config={"hyperparameters": {"batch_size": 16}}, hyperparameters=hp.get_config()
    )
    merged = model.hyperparameters(fn_args)
    assert merged["hidden_units"] == 0 and merged["epochs"] == 7 and merged["batch_size"] == 16
    assert keras_tuner.HyperParameters.from_config(json.loads(json.dumps(hp.get_config()))).values["epochs"] == 7
    untuned = model.hyperparameters(tfx.components.FnArgs(custom_config={}))
    assert untuned == configs.HYPERPARAMETERS


@pytest.mark.parametrize("hidden_units", [0, 64])
def test_head_shapes(hidden_units):
    from models.head import build_head

    head = build_head(16, 3, {**configs.HYPERPARAMETERS, "hidden_units": hidden_units, "l2": 1e-3})
    dense = [layer.name for layer in head.layers if layer.__class__.__name__ == "Dense"]
    assert dense == (["hidden", "scores"] if hidden_units else ["scores"])
    assert head.output_shape == (None, 3) and len(head.losses) == len(dense)  # L2 on every dense kernel


def test_one_standard_error_rule_prefers_the_simplest_close_trial():
    from types import SimpleNamespace

    def trial(loss, se, **values):
        metrics = {"cv_loss": loss, "cv_loss_se": se}
        return SimpleNamespace(
            metrics=SimpleNamespace(get_last_value=metrics.get),
            hyperparameters=SimpleNamespace(values={"hidden_units": 0, "l2": 1e-3, "dropout": 0.2, **values}),
        )

    best = trial(0.40, 0.05, hidden_units=256)
    close_linear = trial(0.44, 0.05)
    far_linear = trial(0.50, 0.05, l2=1e-2)
    assert tuning.simplest_within_one_se([best, close_linear, far_linear]) is close_linear
    assert (
        tuning.simplest_within_one_se([trial(0.40, 0.001, hidden_units=64), close_linear]).hyperparameters.values[
            "hidden_units"
        ]
        == 64
    )  # outside one standard error: the better trial wins
