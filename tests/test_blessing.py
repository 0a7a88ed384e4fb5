"""The blessing bar (against SciPy), the baseline plan (label-set changes), the verdict text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from pipeline import baseline
from pipeline.baseline import BaselinePlan, plan_baseline
from pipeline.blessing import compute_bar, imbalance_warning, lowest_significant_count
from pipeline.evaluation import ClassMetrics, EvaluationSummary, MetricComparison
from pipeline.pipeline import eval_config
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
    assert (bar.eval_count, bar.baseline_rate, bar.needed_correct) == (20, 0.2, 9)
    assert bar.accuracy == pytest.approx(0.45) and bar.lower_bound < 0.45 < bar.lower_bound + 1e-5
    unbalanced = compute_bar({"tasty": 32, "not tasty": 8})
    assert unbalanced.baseline_rate == 0.8 and unbalanced.majority_label == "tasty"
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
    assert bar.needed_correct is None and bar.accuracy > 1 and "add eval photos" in bar.reason()
    with pytest.raises(ValueError, match="empty"):
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


def test_eval_config_thresholds_follow_the_plan():
    with_baseline = eval_config(3, 0.45, compare_with_baseline=True)
    alone = eval_config(3, 0.45, compare_with_baseline=False)
    gate = lambda config: config.metrics_specs[0].metrics[1].per_slice_thresholds[0].threshold  # noqa: E731
    assert gate(with_baseline).HasField("change_threshold") and not gate(alone).HasField("change_threshold")
    assert gate(alone).value_threshold.lower_bound.value == 0.45


def test_eval_counts_from_summary_or_tfrecords(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"classes": {"a": {"train": 9, "eval": 3}}}))
    assert baseline.eval_counts(str(tmp_path)) == {"a": 3}
    assert baseline.class_counts(str(tmp_path)) == {"a": 12}
    (tmp_path / "summary.json").unlink()
    assert baseline.eval_counts(str(tmp_path)) == {}  # no summary, no eval records


def _summary(accuracy: float, failures: list[str], baseline_accuracy: float | None = None) -> EvaluationSummary:
    classes = [ClassMetrics("a", 0.5, 0.5, 10), ClassMetrics("b", 0.5, 0.5, 10)]
    comparisons = []
    if baseline_accuracy is not None:
        comparisons = [MetricComparison("accuracy", accuracy, baseline_accuracy, accuracy - baseline_accuracy)]
    return EvaluationSummary(
        labels=["a", "b"],
        accuracy=accuracy,
        example_count=20,
        classes=classes,
        confusion=np.array([[5, 5], [5, 5]]),
        validation_ok=not failures,
        failures=failures,
        comparisons=comparisons,
        has_baseline=baseline_accuracy is not None,
    )


def test_verdict_says_what_was_needed_and_how_to_lower_the_bar():
    bar = compute_bar({"a": 10, "b": 10})
    text = explain(bar, BaselinePlan(True, "no blessed model yet"), _summary(0.6, ["accuracy = 0.6"]), False)
    assert text.startswith("NOT blessed: accuracy 0.600 (12 of 20 eval photos)")
    assert "baseline rate 0.500" in text and f"bar {bar.accuracy:.3f} ({bar.needed_correct} of 20)" in text
    assert f"needed: at least {bar.needed_correct} of 20 right" in text and "--significance 0.05" in text
    assert "--new-baseline" not in text  # the baseline comparison did not fail
    regressed = _summary(0.9, ["sparse_categorical_accuracy change vs baseline = -0.050"], baseline_accuracy=0.95)
    text = explain(bar, BaselinePlan(True, "same labels"), regressed, False)
    assert "no worse than the last blessed model's 0.950" in text and "--new-baseline" in text
    blessed = explain(bar, BaselinePlan(True, "same labels"), _summary(0.9, []), True)
    assert blessed.startswith("BLESSED") and "needed" not in blessed
