"""The Evaluator: TFX's own (TFMA on the eval split), with the baseline model checked inside the run.

Before TFMA runs, its executor asks whether the last blessed model the Resolver found can be
compared with the candidate at all (pipeline/baseline.py: same labels in the same order, the
signature TFMA calls). When it cannot, TFMA runs without it, which drops the no-regression
threshold (TFX's rubber stamp), and the reason is recorded on the Evaluator's blessing. Local and
Vertex runs decide alike, from the two models' own exports: no runner reads ML Metadata first.

eval_config() is what TFMA computes and its thresholds: accuracy at least the eval floor and,
when there is a comparable baseline model, no worse than it.
"""

from __future__ import annotations

import json

from absl import logging
from tensorflow_model_analysis.proto import config_pb2 as tfma
from tfx import v1 as tfx
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.dsl.components.base import executor_spec

from pipeline.baseline import plan_for
from pipeline.evaluation import TOP_K
from preprocessing.contract import EXAMPLES_SIGNATURE, LABEL_INDEX_KEY, LABEL_KEY, LABEL_SIGNATURE, SCORES_OUTPUT

COMPARED_PROPERTY = "baseline_model_compared"  # 1: TFMA compared with the last blessed model
REASON_PROPERTY = "baseline_model_reason"  # pipeline/baseline.py's plan, in one sentence


class Executor(tfx_evaluator.Executor):
    """TFX's Evaluator executor, after dropping a baseline model that cannot be compared."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        found = input_dict.get("baseline_model") or []
        plan = plan_for(input_dict["model"][0].uri, found[0].uri if found else None)
        if found and not plan.compare:
            logging.info("evaluator: not comparing with the last blessed model: %s", plan.reason)
            input_dict = {**input_dict, "baseline_model": []}
        super().Do(input_dict, output_dict, exec_properties)
        blessing = output_dict["blessing"][0]
        blessing.set_int_custom_property(COMPARED_PROPERTY, int(bool(found) and plan.compare))
        blessing.set_string_custom_property(REASON_PROPERTY, plan.reason)


class Evaluator(tfx.components.Evaluator):
    """tfx.components.Evaluator with the executor above; same inputs, outputs and node id."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)


def eval_config(num_classes: int, eval_floor: float, max_regression: float) -> tfma.EvalConfig:
    """What TFMA computes on the eval split and its thresholds (the Evaluator's half of the
    blessing): overall accuracy at least eval_floor and no worse than a comparable baseline
    model by more than max_regression (TFX drops that threshold when there is none)."""
    accuracy_gate = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": eval_floor}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_regression}
        ),
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=EXAMPLES_SIGNATURE,
                preprocessing_function_names=[LABEL_SIGNATURE],
                label_key=LABEL_INDEX_KEY,
                prediction_key=SCORES_OUTPUT,
            )
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LABEL_KEY])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(
                        class_name="SparseCategoricalAccuracy",
                        # The gate applies to the overall slice; per-label slices are for reading.
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_gate)
                        ],
                    ),
                    tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
                ]
            ),
            # Per class, on the same decisions as accuracy and the confusion matrix: a photo is
            # predicted class c when c is its top score (top_k 1), not when c's score passes 0.5.
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name=name, config=json.dumps({"top_k": TOP_K}))
                    for name in ("Precision", "Recall")
                ],
                binarize=tfma.BinarizationOptions(class_ids={"values": list(range(num_classes))}),
            ),
        ],
    )
