"""Reads the Evaluator's TFMA output into plain numbers, through TFMA's own loaders:
overall metrics for the candidate (and the baseline model, when there was one), per-class
precision / recall / F1 / support, the confusion matrix, and the blessing verdict.

Every number comes from the same decisions: the model's top class (argmax). The
confusion matrix is TFMA's MultiClassConfusionMatrixPlot; per-class precision and
recall are counted from it, and summarize() checks at run time that they equal TFMA's
own top-1 Precision / Recall (pipeline/evaluator.py's eval_config) and that the matrix's diagonal
is TFMA's accuracy count, so recall x support sums to it. Accuracy and each class's
recall carry a Wilson score interval: on 20 eval photos one photo is 0.05.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.class_metrics import (  # noqa: F401  (evaluation.X keeps working)
    INTERVAL_CONFIDENCE,
    ClassMetrics,
    class_metrics,
    count_text,
    rate_text,
    wilson_interval,
)

ACCURACY = "sparse_categorical_accuracy"
CONFUSION_PLOT = "multi_class_confusion_matrix_plot"
TOP_K = 1  # per-class Precision / Recall count a photo as predicted class c when c is its top class


class EvaluationMismatch(RuntimeError):
    """TFMA's numbers for one evaluation disagree with each other (a config or loader bug)."""


@dataclass
class MetricComparison:
    name: str
    candidate: float
    baseline: float | None = None
    change: float | None = None


@dataclass(frozen=True)
class ThresholdFailure:
    """A threshold TFMA found failed: on the metric itself, or on its change against the baseline model."""

    metric: str
    value: float
    vs_baseline_model: bool = False  # a no-regression (change) threshold, not a value threshold

    def __str__(self) -> str:
        change = " change vs the last blessed model" if self.vs_baseline_model else ""
        return f"{self.metric}{change} = {self.value:.3f}"


@dataclass
class EvaluationSummary:
    labels: list[str]
    accuracy: float
    example_count: int
    classes: list[ClassMetrics]
    confusion: np.ndarray  # [actual, predicted] counts
    validation_ok: bool
    failures: list[ThresholdFailure] = field(default_factory=list)
    thresholds: list[str] = field(default_factory=list)
    comparisons: list[MetricComparison] = field(default_factory=list)
    has_baseline_model: bool = False  # TFMA compared with the last blessed model

    @property
    def regressed(self) -> bool:
        """Worse than the last blessed model (a failed no-regression threshold)."""
        return any(f.vs_baseline_model for f in self.failures)

    def _present(self) -> list[ClassMetrics]:
        return [c for c in self.classes if c.support > 0]

    @property
    def correct(self) -> int:
        """Eval photos labelled right."""
        return round(self.accuracy * self.example_count)

    @property
    def accuracy_interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.example_count)

    @property
    def balanced_accuracy(self) -> float:
        """Mean recall over the classes present in the eval split."""
        present = self._present()
        return float(np.mean([c.recall for c in present])) if present else float("nan")

    @property
    def macro_f1(self) -> float:
        """Mean F1 over the classes present in the eval split (a class never predicted counts 0)."""
        present = self._present()
        return float(np.mean([0.0 if math.isnan(c.f1) else c.f1 for c in present])) if present else float("nan")

    @property
    def majority_rate(self) -> float:
        """Accuracy of always answering the eval split's largest class."""
        return max(c.support for c in self.classes) / self.example_count if self.example_count else float("nan")

    def text(self) -> str:
        verdict = "passes" if self.validation_ok else "FAILS"
        lines = [
            f"eval accuracy {self.accuracy:.3f} on {self.example_count} examples "
            f"({count_text(self.correct, self.example_count)}; {verdict} the blessing thresholds)",
            f"  balanced accuracy {self.balanced_accuracy:.3f}, macro-F1 {self.macro_f1:.3f}, "
            f"majority rate {self.majority_rate:.3f} (always the largest class)",
        ]
        lines += [f"  threshold: {t}" for t in self.thresholds]
        lines += [f"  failed: {f}" for f in self.failures]
        if self.has_baseline_model:
            base = next(c for c in self.comparisons if c.name == "accuracy")
            lines.append(f"  last blessed model's accuracy {base.baseline:.3f} (change {base.change:+.3f})")
        lines.append(f"  {'class':<20} {'precision':>9} {'recall':>7} {'(photos right, interval)':<32} {'f1':>6}")
        for c in self.classes:
            lines.append(
                f"  {c.label:<20} {rate_text(c.precision):>9} {rate_text(c.recall):>7} "
                f"{'(' + count_text(c.correct, c.support) + ')':<32} {rate_text(c.f1):>6}"
            )
        return "\n".join(lines)


def _values(metrics_for_slice) -> dict[tuple[str, str, int | None, bool], float]:
    """{(model name, metric, class id or None, is_diff): value}.

    Per-class metrics count only when computed on the top class (top_k = TOP_K); runs
    evaluated before that binarised each class's score at 0.5, and those are left out."""
    values = {}
    for kv in metrics_for_slice.metric_keys_and_values:
        key = kv.key
        sub_key = key.sub_key if key.HasField("sub_key") else None
        class_id = sub_key.class_id.value if sub_key and sub_key.HasField("class_id") else None
        if class_id is not None and not (sub_key.HasField("top_k") and sub_key.top_k.value == TOP_K):
            continue
        if kv.value.HasField("double_value"):
            values[(key.model_name, key.name, class_id, key.is_diff)] = kv.value.double_value.value
    return values


def _overall(records):
    return next(r for r in records if not r.slice_key.single_slice_keys)


def _confusion(evaluation_uri: str, model_name: str, n: int) -> np.ndarray:
    import tensorflow_model_analysis as tfma

    matrix = np.zeros((n, n), dtype=int)
    for kv in _overall(tfma.load_plots(evaluation_uri)).plot_keys_and_values:
        if kv.key.name == CONFUSION_PLOT and kv.key.model_name == model_name:
            for entry in kv.value.multi_class_confusion_matrix_at_thresholds.matrices[0].entries:
                if 0 <= entry.predicted_class_id < n:  # not TFMA's "no prediction" (-1); check_adds_up sees it
                    matrix[entry.actual_class_id, entry.predicted_class_id] = round(entry.num_weighted_examples)
    return matrix


def _thresholds(evaluation_uri: str) -> list[str]:
    import tensorflow_model_analysis as tfma

    config = tfma.load_eval_result(evaluation_uri).config
    found = []
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                t = per_slice.threshold
                if t.HasField("value_threshold") and t.value_threshold.HasField("lower_bound"):
                    found.append(f"{metric.class_name} >= {t.value_threshold.lower_bound.value:.4g}")
                if t.HasField("change_threshold"):
                    found.append(
                        f"{metric.class_name} no worse than the last blessed model by more than "
                        f"{abs(t.change_threshold.absolute.value):g}"
                    )
    return found


def check_adds_up(summary: EvaluationSummary, tfma_values: dict, model_name: str) -> list[tuple[str, int]]:
    """Raises EvaluationMismatch unless the confusion matrix holds every eval photo and its diagonal
    is TFMA's accuracy count. Returns the (metric, class id) whose TFMA top-1 value differs from the
    matrix's (seen with degenerate scores: a head on random Inception weights)."""
    n, correct = summary.example_count, int(np.trace(summary.confusion))
    if summary.confusion.sum() != n or correct != summary.correct or abs(correct / n - summary.accuracy) > 1e-6:
        raise EvaluationMismatch(
            f"TFMA's accuracy {summary.accuracy:.6f} on {n} examples does not match its confusion matrix "
            f"({correct} right of {summary.confusion.sum()})"
        )
    differ = []
    for i, c in enumerate(summary.classes):
        for name, ours in (("precision", c.precision), ("recall", c.recall)):
            theirs = tfma_values.get((model_name, name, i, False))
            if theirs is not None and not (math.isnan(theirs) and math.isnan(ours) or abs(theirs - ours) <= 1e-6):
                differ.append((name, i))
    return differ


def summarize(evaluation_uri: str, labels: list[str]) -> EvaluationSummary:
    import tensorflow_model_analysis as tfma

    values = _values(_overall(tfma.load_metrics(evaluation_uri)))
    has_baseline = any(model == "baseline" for model, *_ in values)
    candidate = "candidate" if has_baseline else next(iter(values))[0]
    confusion = _confusion(evaluation_uri, candidate, len(labels))
    classes = class_metrics(labels, confusion)
    comparisons = []
    for (model, name, class_id, is_diff), value in sorted(values.items(), key=lambda kv: (kv[0][1], kv[0][2] or -1)):
        if model != candidate or is_diff:
            continue
        display = {ACCURACY: "accuracy"}.get(name, name) + (f" ({labels[class_id]})" if class_id is not None else "")
        comparisons.append(
            MetricComparison(
                display,
                value,
                values.get(("baseline", name, class_id, False)),
                values.get((candidate, name, class_id, True)),
            )
        )
    validation = tfma.load_validation_result(evaluation_uri)
    failures = [
        ThresholdFailure(f.metric_key.name, f.metric_value.double_value.value, f.metric_key.is_diff)
        for per_slice in validation.metric_validations_per_slice
        for f in per_slice.failures
    ]
    summary = EvaluationSummary(
        labels=labels,
        accuracy=values[(candidate, ACCURACY, None, False)],
        example_count=int(values[(candidate, "example_count", None, False)]),
        classes=classes,
        confusion=confusion,
        validation_ok=validation.validation_ok,
        failures=failures,
        thresholds=_thresholds(evaluation_uri),
        comparisons=comparisons,
        has_baseline_model=has_baseline,
    )
    differ = check_adds_up(summary, values, candidate)
    if differ:  # the table shows the matrix's numbers; leave TFMA's contradicting ones out of the comparison
        logging.warning("TFMA's top-1 %s differ from its confusion matrix; showing the matrix's", differ)
        shown = {f"{name} ({labels[i]})" for name, i in differ}
        summary.comparisons = [c for c in summary.comparisons if c.name not in shown]
    return summary
