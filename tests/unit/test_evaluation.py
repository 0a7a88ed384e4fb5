"""pipeline/evaluation.py: per-class numbers from the argmax confusion matrix, Wilson intervals,
and the run-time check, on hand-made counts and on real TFMA output (tfma.analyze_raw_data
with the pipeline's own metrics config, on predictions whose top class is below 0.5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.evaluation import (
    EvaluationMismatch,
    EvaluationSummary,
    check_adds_up,
    class_metrics,
    count_text,
    summarize,
    wilson_interval,
)

LABELS = ["a", "b", "c"]


def test_per_class_numbers_are_the_confusion_matrix_rows_and_columns():
    confusion = np.array([[3, 1, 0], [0, 4, 0], [1, 1, 2]])  # [actual, predicted]
    classes = class_metrics(LABELS, confusion)
    assert [c.support for c in classes] == [4, 4, 4] and [c.predicted for c in classes] == [4, 6, 2]
    assert [c.precision for c in classes] == pytest.approx([3 / 4, 4 / 6, 2 / 2])
    assert [c.recall for c in classes] == pytest.approx([3 / 4, 1.0, 2 / 4])
    assert sum(c.correct for c in classes) == np.trace(confusion) == 9
    assert classes[2].f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_a_class_never_predicted_has_no_precision_and_counts_zero_in_macro_f1():
    confusion = np.array([[5, 0], [3, 0]])
    classes = class_metrics(["a", "b"], confusion)
    assert math.isnan(classes[1].precision) and classes[1].recall == 0 and classes[1].correct == 0
    summary = EvaluationSummary(["a", "b"], 5 / 8, 8, classes, confusion, validation_ok=True)
    assert summary.macro_f1 == pytest.approx((2 * (5 / 8) / (5 / 8 + 1) + 0) / 2)
    assert summary.balanced_accuracy == pytest.approx(0.5)
    assert " b " in summary.text() and "0 of 3, 95% CI 0.000-0.561" in summary.text()


@pytest.mark.parametrize("k,n", [(0, 4), (3, 4), (4, 4), (18, 20), (45, 60)])
def test_wilson_interval_is_the_textbook_formula(k, n):
    z, p = 1.959963984540054, k / n  # the 97.5% normal quantile
    centre, half = (
        (p + z * z / (2 * n)) / (1 + z * z / n),
        z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)),
    )
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half), abs=1e-9)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    assert count_text(18, 20) == "18 of 20, 95% CI 0.699-0.972"


def test_numbers_that_do_not_add_up_are_refused():
    confusion = np.array([[3, 1], [1, 3]])
    summary = EvaluationSummary(["a", "b"], 0.75, 8, class_metrics(["a", "b"], confusion), confusion, True)
    assert check_adds_up(summary, {("m", "precision", 0, False): 0.75, ("m", "recall", 1, False): 0.75}, "m") == []
    assert check_adds_up(summary, {("m", "precision", 0, False): 1.0}, "m") == [("precision", 0)]  # binarised at 0.5
    summary.accuracy = 0.875
    with pytest.raises(EvaluationMismatch, match="does not match its confusion matrix"):
        check_adds_up(summary, {}, "m")


def _tfma_values(path) -> dict:
    import tensorflow_model_analysis as tfma

    from pipeline import evaluation

    return evaluation._values(evaluation._overall(tfma.load_metrics(str(path))))


def test_tfma_per_class_metrics_use_the_top_class(small_evaluation):
    """The pipeline's eval_config through real TFMA: top scores below 0.5 still count as predictions
    (tests/support/tfma_evaluation.py: the scores, one row per photo)."""
    summary = summarize(str(small_evaluation), LABELS)
    assert check_adds_up(summary, _tfma_values(small_evaluation), "") == []  # TFMA's own top-1 values agree
    assert summary.example_count == 7 and summary.correct == 5
    assert summary.confusion.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert [c.recall for c in summary.classes] == pytest.approx([2 / 3, 1.0, 0.5])  # at 0.5: 0, 1/2, 1/2
    assert [c.precision for c in summary.classes] == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert sum(c.correct for c in summary.classes) == summary.correct
    comparisons = {c.name: c.candidate for c in summary.comparisons}
    assert comparisons["recall (a)"] == pytest.approx(2 / 3) and comparisons["precision (b)"] == pytest.approx(2 / 3)
