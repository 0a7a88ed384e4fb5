"""models/fold_trainer.py: all folds' heads in one graph train as Keras' fit_head would, fold by fold."""

from __future__ import annotations

import numpy as np
import pytest

from models.fold_trainer import cross_validate_head, cross_validate_heads
from models.head import fit_head
from models.tuning import stratified_folds


def _data(n: int = 90, d: int = 24, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, d)).astype(np.float32) + np.eye(classes, d, dtype=np.float32)[y] * 1.5
    return x, y.astype(np.int64)


@pytest.mark.parametrize("hidden_units,l2", [(0, 0.0), (0, 1e-2), (16, 1e-3)])
def test_each_fold_equals_fit_head_on_the_other_folds(hidden_units, l2):
    """Full-batch steps and no dropout, so shuffling and masks play no part: each fold's scores
    must be those of a Keras head (same initial weights, L2, Adam) fitted on the other folds."""
    x, y = _data()
    folds = stratified_folds(y, 4, 0)
    hp = {"hidden_units": hidden_units, "dropout": 0.0, "l2": l2, "learning_rate": 0.01}
    hp |= {"batch_size": len(y), "epochs": 15, "seed": 3}
    curves, scores = cross_validate_head(x, y, 3, hp, folds)
    assert curves.shape == (4, 15, 2)
    for fold in range(4):
        held = folds == fold
        keras = fit_head(x[~held], y[~held], 3, hp).predict(x[held], verbose=0)
        np.testing.assert_allclose(scores[held], keras, atol=2e-5)


def test_patience_stops_early_on_the_same_curve():
    x, y = _data(seed=1)
    folds = stratified_folds(y, 3, 0)
    hp = {"hidden_units": 16, "dropout": 0.2, "l2": 0.0, "learning_rate": 0.05, "batch_size": 16}
    hp |= {"epochs": 60, "seed": 0}
    full, _ = cross_validate_head(x, y, 3, hp, folds)
    stopped, _ = cross_validate_head(x, y, 3, hp, folds, patience=5)
    ran = stopped.shape[1]
    best = int(full.mean(axis=0)[:ran, 1].argmin())
    assert ran < 60 and ran == best + 6  # stopped 5 epochs after the mean held-out loss last improved
    np.testing.assert_array_equal(stopped, full[:, :ran])  # the same epochs, bit for bit
    again, _ = cross_validate_head(x, y, 3, hp, folds, patience=5)
    np.testing.assert_array_equal(again, stopped)


def test_trials_of_one_shape_train_together_as_each_would_alone():
    """The Tuner's batching: dropout, L2 and learning rate per trial, one graph; each trial's curves
    (and where patience stopped it) and scores are those of its own run."""
    x, y = _data(seed=2)
    folds = stratified_folds(y, 3, 0)
    shape = {"hidden_units": 16, "batch_size": 16, "epochs": 40, "seed": 1}
    hps = [
        shape | {"dropout": 0.0, "l2": 0.0, "learning_rate": 0.05},
        shape | {"dropout": 0.4, "l2": 1e-3, "learning_rate": 0.01},
        shape | {"dropout": 0.2, "l2": 1e-2, "learning_rate": 0.003},
    ]
    together = cross_validate_heads(x, y, 3, hps, folds, patience=5)
    for hp, (curves, scores) in zip(hps, together, strict=True):
        alone_curves, alone_scores = cross_validate_head(x, y, 3, hp, folds, patience=5)
        assert curves.shape == alone_curves.shape
        np.testing.assert_allclose(curves, alone_curves, atol=1e-5)
        np.testing.assert_allclose(scores, alone_scores, atol=1e-5)
    assert len({c.shape[1] for c, _ in together}) > 1  # patience stopped the trials at different epochs
    with pytest.raises(ValueError, match="one head shape"):
        cross_validate_heads(x, y, 3, [hps[0], hps[1] | {"hidden_units": 0}], folds)
