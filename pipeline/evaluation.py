"""Reads the Evaluator's TFMA output into plain numbers: overall accuracy, example count,
per-class precision and recall, and the validation verdict with its failures."""

from __future__ import annotations

from dataclasses import dataclass, field

ACCURACY = "sparse_categorical_accuracy"


@dataclass
class EvaluationSummary:
    accuracy: float
    example_count: int
    precision: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    validation_ok: bool = False
    failures: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"eval accuracy {self.accuracy:.3f} on {self.example_count} examples "
            f"({'passes' if self.validation_ok else 'FAILS'} the blessing thresholds)"
        ]
        lines += [f"  failed: {f}" for f in self.failures]
        lines.append(f"  {'class':<20} {'precision':>9} {'recall':>7}")
        for label in self.precision:
            lines.append(f"  {label:<20} {self.precision[label]:>9.3f} {self.recall.get(label, float('nan')):>7.3f}")
        return "\n".join(lines)


def _metric_values(metrics_for_slice) -> dict[tuple[str, int | None, bool], float]:
    values = {}
    for kv in metrics_for_slice.metric_keys_and_values:
        key = kv.key
        class_id = key.sub_key.class_id.value if key.HasField("sub_key") and key.sub_key.HasField("class_id") else None
        if kv.value.HasField("double_value"):
            values[(key.name, class_id, key.is_diff)] = kv.value.double_value.value
    return values


def overall_metrics(evaluation_uri: str) -> dict[tuple[str, int | None, bool], float]:
    """{(metric name, class id or None, is_diff): value} for the overall slice."""
    import tensorflow_model_analysis as tfma

    for metrics in tfma.load_metrics(evaluation_uri):
        if not metrics.slice_key.single_slice_keys:
            return _metric_values(metrics)
    raise ValueError(f"no overall slice in {evaluation_uri}")


def summarize(evaluation_uri: str, labels: list[str]) -> EvaluationSummary:
    import tensorflow_model_analysis as tfma

    values = overall_metrics(evaluation_uri)
    validation = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            failures.append(
                f"{failure.metric_key.name}{' (change vs baseline)' if failure.metric_key.is_diff else ''} = "
                f"{failure.metric_value.double_value.value:.3f}"
            )
    return EvaluationSummary(
        accuracy=values[(ACCURACY, None, False)],
        example_count=int(values[("example_count", None, False)]),
        precision={label: values.get(("precision", i, False), float("nan")) for i, label in enumerate(labels)},
        recall={label: values.get(("recall", i, False), float("nan")) for i, label in enumerate(labels)},
        validation_ok=validation.validation_ok,
        failures=failures,
    )
