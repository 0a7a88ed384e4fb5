"""Reads the Evaluator's TFMA output into plain numbers, through TFMA's own loaders:
overall metrics for the candidate (and the baseline, when there was one), per-class
precision / recall / F1 / support, the confusion matrix, and the blessing verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ACCURACY = "sparse_categorical_accuracy"
CONFUSION_PLOT = "multi_class_confusion_matrix_plot"


@dataclass
class MetricComparison:
    name: str
    candidate: float
    baseline: float | None = None
    change: float | None = None


@dataclass
class ClassMetrics:
    label: str
    precision: float
    recall: float
    support: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        if math.isnan(p + r):
            return float("nan")
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


@dataclass
class EvaluationSummary:
    labels: list[str]
    accuracy: float
    example_count: int
    classes: list[ClassMetrics]
    confusion: np.ndarray  # [actual, predicted] counts
    validation_ok: bool
    failures: list[str] = field(default_factory=list)
    thresholds: list[str] = field(default_factory=list)
    comparisons: list[MetricComparison] = field(default_factory=list)
    has_baseline: bool = False

    def _present(self) -> list[ClassMetrics]:
        return [c for c in self.classes if c.support > 0]

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
    def baseline_rate(self) -> float:
        """Accuracy of always answering the eval split's largest class."""
        return max(c.support for c in self.classes) / self.example_count if self.example_count else float("nan")

    def text(self) -> str:
        verdict = "passes" if self.validation_ok else "FAILS"
        lines = [
            f"eval accuracy {self.accuracy:.3f} on {self.example_count} examples ({verdict} the blessing thresholds)",
            f"  balanced accuracy {self.balanced_accuracy:.3f}, macro-F1 {self.macro_f1:.3f}, "
            f"baseline rate {self.baseline_rate:.3f} (always the largest class)",
        ]
        lines += [f"  threshold: {t}" for t in self.thresholds]
        lines += [f"  failed: {f}" for f in self.failures]
        if self.has_baseline:
            base = next(c for c in self.comparisons if c.name == "accuracy")
            lines.append(f"  baseline accuracy {base.baseline:.3f} (change {base.change:+.3f})")
        lines.append(f"  {'class':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
        for c in self.classes:
            lines.append(f"  {c.label:<20} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f} {c.support:>8}")
        return "\n".join(lines)


def _values(metrics_for_slice) -> dict[tuple[str, str, int | None, bool], float]:
    """{(model name, metric, class id or None, is_diff): value}."""
    values = {}
    for kv in metrics_for_slice.metric_keys_and_values:
        key = kv.key
        class_id = key.sub_key.class_id.value if key.HasField("sub_key") and key.sub_key.HasField("class_id") else None
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
                        f"{metric.class_name} no worse than the baseline by more than "
                        f"{abs(t.change_threshold.absolute.value):g}"
                    )
    return found


def _failure_text(failure) -> str:
    change = " change vs baseline" if failure.metric_key.is_diff else ""
    return f"{failure.metric_key.name}{change} = {failure.metric_value.double_value.value:.3f}"


def summarize(evaluation_uri: str, labels: list[str]) -> EvaluationSummary:
    import tensorflow_model_analysis as tfma

    values = _values(_overall(tfma.load_metrics(evaluation_uri)))
    has_baseline = any(model == "baseline" for model, *_ in values)
    candidate = "candidate" if has_baseline else next(iter(values))[0]
    confusion = _confusion(evaluation_uri, candidate, len(labels))
    classes = [
        ClassMetrics(
            label,
            values.get((candidate, "precision", i, False), float("nan")),
            values.get((candidate, "recall", i, False), float("nan")),
            int(confusion[i].sum()),
        )
        for i, label in enumerate(labels)
    ]
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
    failures = [_failure_text(f) for per_slice in validation.metric_validations_per_slice for f in per_slice.failures]
    return EvaluationSummary(
        labels=labels,
        accuracy=values[(candidate, ACCURACY, None, False)],
        example_count=int(values[(candidate, "example_count", None, False)]),
        classes=classes,
        confusion=confusion,
        validation_ok=validation.validation_ok,
        failures=failures,
        thresholds=_thresholds(evaluation_uri),
        comparisons=comparisons,
        has_baseline=has_baseline,
    )
