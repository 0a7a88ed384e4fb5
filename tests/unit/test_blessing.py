"""The blessing rule (against SciPy, and its false-positive rate and power by simulation),
the baseline plan (label-set changes), the verdict text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from data import counts
from data.counts import imbalance_warning
from pipeline.baseline import NEW_BASELINE_REASON, NO_BASELINE_REASON, BaselinePlan, plan_baseline, plan_for
from pipeline.blessing import (
    Record,
    compute_bar,
    compute_holdout,
    holdout_floor,
    lowest_significant_count,
)
from pipeline.evaluation import ClassMetrics, EvaluationSummary, MetricComparison, ThresholdFailure
from pipeline.evaluator import eval_config
from pipeline.settings import BlessingSettings
from pipeline.verdict import explain


def _brute_force(n: int, rate: float, level: float) -> int | None:
    return next((k for k in range(n + 1) if binomtest(k, n, rate, alternative="greater").pvalue < level), None)


@pytest.mark.parametrize(
    "n, rate, level",
    [(20, 0.2, 0.01), (60, 0.1, 0.01), (40, 0.8, 0.01), (20, 0.8, 0.01), (333, 0.37, 0.05), (7, 0.5, 0.1)],
)
def test_lowest_significant_count_matches_scipy_brute_force(n, rate, level):
    k = lowest_significant_count(n, rate, level)
    assert k == _brute_force(n, rate, level)
    if k is not None:  # the bar is the boundary: k passes, k - 1 does not
        assert binomtest(k, n, rate, alternative="greater").pvalue < level
        assert k == 0 or binomtest(k - 1, n, rate, alternative="greater").pvalue >= level


def test_bundled_sample_bar_and_majority_rate_not_one_over_k():
    bar = compute_bar({"daisy": 4, "dandelion": 4, "roses": 4, "sunflowers": 4, "tulips": 4})
    assert (bar.photo_count, bar.majority_rate, bar.needed_correct) == (20, 0.2, 9)
    assert bar.accuracy == pytest.approx(0.45) and bar.lower_bound < 0.45 < bar.lower_bound + 1e-5
    unbalanced = compute_bar({"tasty": 32, "not tasty": 8})
    assert unbalanced.majority_rate == 0.8 and unbalanced.majority_label == "tasty"
    assert unbalanced.needed_correct == _brute_force(40, 0.8, 0.01) == 38  # 0.8 (always "tasty") does not pass


def test_business_bar_only_raises_the_bar():
    counts = {"a": 30, "b": 30}
    significance_only = compute_bar(counts)
    assert not significance_only.from_business_bar
    assert compute_bar(counts, min_accuracy=0.3).needed_correct == significance_only.needed_correct
    strict = compute_bar(counts, min_accuracy=0.9)
    assert strict.from_business_bar and strict.needed_correct == 54 and "--min-accuracy" in strict.reason()
    assert compute_bar(counts, min_accuracy=0.9 + 1e-12).needed_correct == 54  # no float surprise at k/n


def test_unreachable_bar_says_so():
    bar = compute_bar({"tasty": 16, "not tasty": 4})  # even 20 of 20 has p = 0.8**20 > 0.01
    assert bar.needed_correct is None and bar.accuracy > 1 and "add photos" in bar.reason()
    with pytest.raises(ValueError, match="no labelled photos"):
        compute_bar({"a": 0})
    with pytest.raises(ValueError, match="significance"):
        compute_bar({"a": 3}, significance=1.5)


def test_imbalance_warning_above_three_times():
    assert imbalance_warning({"a": 30, "b": 10}) is None
    warning = imbalance_warning({"a": 31, "b": 10, "c": 20})
    assert warning and "'a' has 31" in warning and "'b' 10" in warning


def test_label_set_changes_skip_the_comparison():
    labels = ["daisy", "roses", "tulips"]
    assert plan_baseline(labels, None).compare
    assert plan_baseline(labels, list(labels)).compare
    added = plan_baseline(labels, ["daisy", "roses"])
    assert not added.compare and "added tulips" in added.reason and "no comparison" in added.reason
    assert "replaces that model" in added.reason and "--model-name" in added.reason  # a new user's surprise
    renamed = plan_baseline(labels, ["daisy", "rose", "tulips"])
    assert not renamed.compare and "added roses" in renamed.reason and "removed rose" in renamed.reason
    assert "reordered" in plan_baseline(labels, ["roses", "daisy", "tulips"]).reason
    new = plan_baseline(labels, list(labels), new_baseline=True)
    assert not new.compare and "--new-baseline" in new.reason


def test_a_baseline_without_the_label_signature_is_not_compared():
    """Models exported before TFMA read labels from `label_index` cannot be evaluated by TFMA
    with today's EvalConfig: the run starts a new baseline instead of failing."""
    labels = ["daisy", "roses"]
    current = frozenset({"serving_default", "serving_examples", "label_index"})
    assert plan_baseline(labels, list(labels), previous_signatures=current).compare
    old = plan_baseline(labels, list(labels), previous_signatures=frozenset({"serving_default", "transform_features"}))
    assert not old.compare and "older tastebud" in old.reason and "label_index" in old.reason


def _export(root, labels: list[str] | None):
    """A Trainer model artefact as the Evaluator sees it: Format-Serving/assets.extra/dict.txt (None: no file)."""
    assets = root / "Format-Serving" / "assets.extra"
    assets.mkdir(parents=True)
    if labels is not None:
        (assets / "dict.txt").write_text("".join(f"{label}\n" for label in labels))
    return str(root)


def test_the_evaluator_plans_from_both_models_exports(tmp_path):
    """pipeline/evaluator.py's check, inside the run: each model's labels come from its own export."""
    candidate = _export(tmp_path / "candidate", ["daisy", "roses"])
    assert plan_for(candidate, _export(tmp_path / "same", ["daisy", "roses"])).compare
    changed = plan_for(candidate, _export(tmp_path / "other", ["daisy", "tulips"]))
    assert not changed.compare and "added roses" in changed.reason and "removed tulips" in changed.reason
    assert not plan_for(candidate, _export(tmp_path / "unlabelled", None)).compare
    assert plan_for(candidate, None).reason == NO_BASELINE_REASON
    assert plan_for(candidate, None, new_baseline=True).reason == NEW_BASELINE_REASON


def test_eval_config_thresholds_follow_the_plan():
    """As TFX's Evaluator executor applies the config: without a (comparable) baseline model
    the no-regression threshold is dropped (its rubber stamp), the eval floor stays."""
    import tensorflow_model_analysis as tfma

    config = eval_config(3, 0.45, max_regression=1e-10)
    with_baseline = tfma.utils.update_eval_config_with_defaults(config, has_baseline=True, rubber_stamp=True)
    alone = tfma.utils.update_eval_config_with_defaults(config, has_baseline=False, rubber_stamp=True)
    gate = lambda config: config.metrics_specs[0].metrics[1].per_slice_thresholds[0].threshold  # noqa: E731
    assert gate(with_baseline).HasField("change_threshold") and not gate(alone).HasField("change_threshold")
    assert gate(alone).value_threshold.lower_bound.value == 0.45


def test_eval_counts_from_summary_or_tfrecords(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"classes": {"a": {"train": 9, "eval": 3}}}))
    assert counts.eval_counts(str(tmp_path)) == {"a": 3}
    assert counts.class_counts(str(tmp_path)) == {"a": 12} == counts.labelled_counts(str(tmp_path))
    (tmp_path / "summary.json").unlink()
    assert counts.eval_counts(str(tmp_path)) == {} == counts.labelled_counts(str(tmp_path))  # no records


def test_the_record_round_trips_and_an_old_one_is_not_misread():
    """The BlessingGate's record property: its `rule` parameter plus the plan, read back as a Record."""
    record = _record()
    rule = json.loads(BlessingSettings(record.bar, record.holdout).as_json())
    stored = json.dumps({"bar": rule["bar"], "holdout": rule["holdout"], "plan": {"compare": True, "reason": "x"}})
    assert Record.from_json(stored) == Record(record.bar, record.holdout, BaselinePlan(True, "x"))
    old = {"bar": {"eval_count": 20}, "plan": {"compare": True, "reason": "x"}}  # eval-split-only rule
    assert Record.from_json(json.dumps(old)) is None and Record.from_json(None) is None


def test_holdout_floor_is_the_fewest_right_answers_not_significantly_below_the_bar():
    bar = compute_bar({"a": 50, "b": 50})  # 63 of 100
    check = compute_holdout(10, bar)
    k = check.floor_correct
    assert binom.cdf(k, 10, 0.63) >= 0.01 > binom.cdf(k - 1, 10, 0.63) and k == 3
    assert check.lower_bound < 0.3 < check.lower_bound + 1e-5
    assert holdout_floor(10, 1.1, 0.01) == 10  # an unreachable bar: every eval photo right
    assert holdout_floor(3, 0.2, 0.01) == 0
    with pytest.raises(ValueError, match="eval split is empty"):
        compute_holdout(0, bar)


def _no_skill_sets(rng: np.random.Generator, count: int):
    """(labels [n], predictions [n], classes) with predictions independent of the labels, n in 60..150."""
    for i in range(count):
        n, classes = int(rng.integers(60, 151)), int(rng.choice([2, 2, 2, 3, 5]))
        weights = rng.dirichlet(np.full(classes, 4.0))  # uneven classes too
        labels = rng.choice(classes, n, p=weights)
        kind = i % 3
        if kind == 0:  # always the most common class (the baseline itself)
            predictions = np.full(n, np.bincount(labels, minlength=classes).argmax())
        elif kind == 1:  # guesses in the labels' own proportions
            predictions = rng.permutation(labels)
        else:  # guesses biased towards one class
            predictions = rng.choice(classes, n, p=rng.dirichlet(np.ones(classes)))
        yield labels, predictions, classes


def _out_of_fold_nearest_mean(rng: np.random.Generator, labels: np.ndarray, classes: int, folds: int = 5):
    """Out-of-fold predictions of a nearest-class-mean classifier on pure-noise features."""
    from models.tuning import stratified_folds

    x = rng.normal(size=(len(labels), 16))
    fold = stratified_folds(labels, folds, int(rng.integers(1 << 30)))
    predictions = np.empty(len(labels), dtype=int)
    for f in range(folds):
        train, test = fold != f, fold == f
        means = np.stack(
            [
                x[train & (labels == c)].mean(0) if (train & (labels == c)).any() else np.full(16, np.inf)
                for c in range(classes)
            ]
        )
        predictions[test] = ((x[test, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    return predictions


def _passes(labels: np.ndarray, predictions: np.ndarray, classes: int) -> bool:
    counts = {str(c): int((labels == c).sum()) for c in range(classes) if (labels == c).any()}
    bar = compute_bar(counts)
    return bar.needed_correct is not None and int((labels == predictions).sum()) >= bar.needed_correct


def test_no_skill_predictions_pass_the_out_of_fold_bar_at_most_1_percent_of_the_time(artifacts_dir):
    """2,000 simulated no-skill prediction sets at n = 60-150: answers independent of the
    labels, and out-of-fold predictions of a classifier trained on noise (the rule's real case)."""
    rng = np.random.default_rng(23)
    independent = [_passes(*s) for s in _no_skill_sets(rng, 1000)]
    cross_validated = []
    for labels, _, classes in _no_skill_sets(rng, 1000):
        cross_validated.append(_passes(labels, _out_of_fold_nearest_mean(rng, labels, classes), classes))
    rates = {"independent": float(np.mean(independent)), "cross_validated_noise": float(np.mean(cross_validated))}
    (artifacts_dir / "blessing_false_positive_rate.json").write_text(json.dumps(rates, indent=2))
    assert rates["independent"] <= 0.01 and rates["cross_validated_noise"] <= 0.01, rates


def test_power_of_the_rule_at_small_n(artifacts_dir):
    """Two balanced classes, a tenth of the photos in eval: how often a 90%- (and a 75%-)accurate
    model passes both the out-of-fold bar and the eval floor, simulated against the closed form."""
    from pipeline.verdict import error_rates

    rng = np.random.default_rng(1)
    table = {}
    for n in (60, 100, 150):
        bar = compute_bar({"a": n // 2, "b": n - n // 2})
        holdout = compute_holdout(round(n / 10), bar)
        row = {"bar": bar.accuracy, "eval_floor": holdout.accuracy}
        for accuracy in (0.9, 0.75):
            cv = rng.binomial(n, accuracy, 20000) >= bar.needed_correct
            held = rng.binomial(holdout.eval_count, accuracy, 20000) >= holdout.floor_correct
            fpr, power = error_rates(bar, holdout, accuracy)
            assert abs(float((cv & held).mean()) - power) < 0.01 and fpr < 0.01
            row |= {f"power_{accuracy:g}": power, f"simulated_{accuracy:g}": float((cv & held).mean())}
        row["false_positive_rate"] = fpr
        table[n] = row
        assert row["power_0.9"] > 0.99
    (artifacts_dir / "blessing_power.json").write_text(json.dumps(table, indent=2))


def _summary(
    accuracy: float, failures: list[ThresholdFailure], baseline_accuracy: float | None = None
) -> EvaluationSummary:
    classes = [ClassMetrics("a", 0.5, 0.5, 5), ClassMetrics("b", 0.5, 0.5, 5)]
    comparisons = []
    if baseline_accuracy is not None:
        comparisons = [MetricComparison("accuracy", accuracy, baseline_accuracy, accuracy - baseline_accuracy)]
    return EvaluationSummary(
        labels=["a", "b"],
        accuracy=accuracy,
        example_count=10,
        classes=classes,
        confusion=np.array([[3, 2], [2, 3]]),
        validation_ok=not failures,
        failures=failures,
        comparisons=comparisons,
        has_baseline_model=baseline_accuracy is not None,
    )


def _record(reason: str = "no blessed model yet") -> Record:
    bar = compute_bar({"a": 50, "b": 50})
    return Record(bar, compute_holdout(10, bar), BaselinePlan(True, reason))


def test_verdict_says_what_evidence_was_used_and_what_was_needed():
    record = _record()
    blessed = explain(record, _summary(0.8, []), True, 84)
    assert blessed.startswith("BLESSED: 5-fold CV over 100 photos: 0.840 (84 of 100), bar 0.630 (63 of 100)")
    assert "majority rate 0.500" in blessed and "eval split (the model to push): accuracy 0.800 (8 of 10)" in blessed
    assert "floor 0.300 (3 of 10)" in blessed and "needed" not in blessed
    assert "no-skill model through 0.60% of the time" in blessed and "90%-accurate model more than 99.9% of" in blessed
    text = explain(record, _summary(0.6, []), False, 60)
    assert text.startswith("NOT blessed: 5-fold CV over 100 photos: 0.600 (60 of 100)")
    assert "needed: at least 63 of 100 right out of fold (accuracy 0.630), 60 were" in text
    assert "--significance 0.05: bar 0.590 (59 of 100)" in text and "--new-baseline" not in text
    short = explain(record, _summary(0.2, [ThresholdFailure("sparse_categorical_accuracy", 0.2)]), False, 90)
    assert "needed: at least 3 of 10 eval photos right, 2 were" in short and "out of fold (accuracy" not in short
    failed = ThresholdFailure("sparse_categorical_accuracy", -0.1, vs_baseline_model=True)
    regressed = _summary(0.8, [failed], baseline_accuracy=0.9)
    text = explain(_record("same labels"), regressed, False, 90)
    assert "no worse on the eval split than the last blessed model's 0.900" in text and "--new-baseline" in text
    assert "last blessed model: accuracy 0.900 on this run's eval split (change -0.100)" in text
