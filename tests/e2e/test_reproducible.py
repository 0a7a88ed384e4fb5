"""The same data, settings and seed give the same model: two fresh default runs (with the Tuner)
on 20 photos, the second beside a CPU-burning process, agree on the Tuner's trials and choice,
TFMA's metrics and every photo's scores."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.support.pipeline_runs import prepare_data, run_pipeline, sample_subset

pytestmark = pytest.mark.slow

TOLERANCE = 1e-5


def _trials(tuner_run) -> list[tuple[dict, float]]:
    """(values, score) of every trial by trial id, from the Tuner's tuner_results.json artefact."""
    with open(f"{tuner_run.output('tuner_results').uri}/tuner_results.json") as f:
        trials = sorted(json.load(f), key=lambda t: t["trial_id"])
    return [({k: v for k, v in t.items() if k not in ("trial_id", "score")}, t["score"]) for t in trials]


def _best(tuner_run) -> dict:
    with open(f"{tuner_run.output('best_hyperparameters').uri}/best_hyperparameters.txt") as f:
        return json.load(f)["values"]


def _metrics(evaluator_run) -> dict[str, float]:
    """TFMA's overall metrics, by their full key."""
    import tensorflow_model_analysis as tfma

    overall = next(
        m for m in tfma.load_metrics(evaluator_run.output("evaluation").uri) if not m.slice_key.single_slice_keys
    )
    return {str(kv.key): kv.value.double_value.value for kv in overall.metric_keys_and_values}


def _scores(trainer_run, images: list[bytes]) -> np.ndarray:
    from tastebud.inference import LocalModel

    model = LocalModel(f"{trainer_run.output('model').uri}/Format-Serving")
    return np.array([[p.scores[c] for c in sorted(p.scores)] for p in model.predict(images)])


def assert_same_model(quiet: dict, busy: dict, data) -> float:
    """The two runs' trials, choice, metrics and scores agree; returns the largest score difference."""
    from data.examples import read_examples

    quiet_trials, busy_trials = _trials(quiet["Tuner"]), _trials(busy["Tuner"])
    assert len(quiet_trials) == len(busy_trials) == 12  # the budget is trials, not seconds
    assert [values for values, _ in busy_trials] == [values for values, _ in quiet_trials]
    assert [score for _, score in busy_trials] == pytest.approx([score for _, score in quiet_trials], abs=TOLERANCE)
    assert _best(busy["Tuner"]) == _best(quiet["Tuner"])

    quiet_metrics, busy_metrics = _metrics(quiet["Evaluator"]), _metrics(busy["Evaluator"])
    assert busy_metrics.keys() == quiet_metrics.keys()
    for key, value in quiet_metrics.items():
        assert busy_metrics[key] == pytest.approx(value, abs=TOLERANCE, nan_ok=True), key

    images = [image for _, _, image in read_examples([str(p) for p in sorted(data.glob("*/*.tfrecord.gz"))])]
    assert len(images) == 20  # train and eval photos
    quiet_scores, busy_scores = _scores(quiet["Trainer"], images), _scores(busy["Trainer"], images)
    largest = float(np.abs(quiet_scores - busy_scores).max())
    assert largest <= TOLERANCE
    return largest


def test_two_fresh_runs_give_the_same_model_even_beside_a_cpu_burner(tmp_path, sample_dir, artifacts_dir):
    data = prepare_data(sample_subset(sample_dir, tmp_path / "photos", ("daisy", "tulips"), 10), tmp_path / "data")
    runs = {}
    started = time.monotonic()
    runs["quiet"], quiet_seconds = run_pipeline(data, tmp_path / "quiet", "--backbone", "efficientnet_lite0")
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        runs["busy"], busy_seconds = run_pipeline(data, tmp_path / "busy", "--backbone", "efficientnet_lite0")
    finally:
        burner.kill()
        burner.wait()
    largest = assert_same_model(runs["quiet"], runs["busy"], data)
    quiet, busy = runs["quiet"], runs["busy"]
    (artifacts_dir / "reproducible.txt").write_text(
        f"quiet run {quiet_seconds:.1f} s (Tuner {quiet['Tuner'].seconds:.1f} s), busy run {busy_seconds:.1f} s "
        f"(Tuner {busy['Tuner'].seconds:.1f} s), whole test {time.monotonic() - started:.1f} s; "
        f"largest score difference {largest:.2e}; best {json.dumps(_best(quiet['Tuner']))}\n"
    )
