"""BlessingGate: the blessing the Pusher and the next run's baseline resolver read.

It blesses the Trainer's model when both parts of pipeline/blessing.py's rule hold:

1. the out-of-fold (OOF) predictions (models/out_of_fold.py) get at least the bar's count
   of photos right: the one-sided binomial bar against the majority rate, fixed by the
   runner from the photo counts before the run (its `rule` parameter);
2. the Evaluator (TFMA, the held-out eval split) blessed the model: its eval accuracy is
   not significantly below that bar, and it is no worse than the last blessed model when
   that one could be compared (pipeline/evaluator.py).

It checks its inputs' promises at run time: the OOF artefact must hold every labelled
photo exactly once (the bar's photo count, from `tastebud prepare`'s summary), and the
Evaluator must have judged this model. Its ModelBlessing carries TFX's `blessed`,
`current_model` and `current_model_id` properties, the evidence (`cv_correct`,
`cv_count`, `cv_needed`, `cv_passed`, `holdout_passed`), and the record (RECORD_PROPERTY:
the bar, the eval floor and the baseline-model plan) the verdict and the review read.
"""

import json
from dataclasses import asdict

import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

RULE_PROPERTY = "rule"  # set on the gate's blessings (the ones that count as blessings)
RULE = "oof-binomial"
COMPONENT_ID = "BlessingGate"
RECORD_PROPERTY = "record"  # JSON: pipeline/blessing.py's Record (bar, holdout, plan)


def baseline_plan(evaluator_blessing, new_baseline: bool):
    """Whether the last blessed model was compared, and why (pipeline/evaluator.py recorded it)."""
    from pipeline.baseline import NEW_BASELINE_REASON, NO_BASELINE_REASON, BaselinePlan
    from pipeline.evaluator import COMPARED_PROPERTY, REASON_PROPERTY

    if new_baseline:
        return BaselinePlan(False, NEW_BASELINE_REASON)
    reason = evaluator_blessing.get_string_custom_property(REASON_PROPERTY) or NO_BASELINE_REASON
    return BaselinePlan(evaluator_blessing.get_int_custom_property(COMPARED_PROPERTY) == 1, reason)


def needed_and_count(bar: dict | None) -> tuple[int, int]:
    """(needed_correct, photo_count) for decide(): -1 when no count can pass; (0, 0) without a bar."""
    if bar is None:
        return 0, 0
    from pipeline.blessing import BlessingBar

    needed = BlessingBar(**bar).needed_correct
    return (-1 if needed is None else needed), bar["photo_count"]


def decide(correct: int, count: int, needed_correct: int, photo_count: int, holdout_passed: bool) -> dict:
    """The gate's decision as properties; raises ValueError when the OOF evidence is not what was promised."""
    if photo_count > 0 and count != photo_count:  # 0: not known when the pipeline was compiled
        raise ValueError(
            f"the out-of-fold predictions cover {count} photos, but the data has {photo_count} labelled photos "
            "(train + eval, from summary.json): the blessing bar was computed for another set"
        )
    cv_passed = needed_correct >= 0 and correct >= needed_correct
    return {
        "blessed": int(cv_passed and holdout_passed),
        "cv_correct": correct,
        "cv_count": count,
        "cv_needed": needed_correct,
        "cv_passed": int(cv_passed),
        "holdout_passed": int(holdout_passed),
    }


@component
def BlessingGate(  # noqa: N802 (a TFX component's name)
    out_of_fold: InputArtifact[standard_artifacts.Examples],
    model: InputArtifact[standard_artifacts.Model],
    model_blessing: InputArtifact[standard_artifacts.ModelBlessing],
    blessing: OutputArtifact[standard_artifacts.ModelBlessing],
    rule: Parameter[str],
):
    """rule (JSON, pipeline/settings.py BlessingSettings.as_json): the out-of-fold bar, the eval
    floor and --new-baseline; a null bar (not known at compile time) asks for no count."""
    from absl import logging

    from models.out_of_fold import read

    judged = model_blessing.get_int_custom_property("current_model_id")
    if judged != model.id:
        raise ValueError(f"the Evaluator judged model {judged}, not the Trainer's model {model.id}")
    settings = json.loads(rule)
    predictions = read(out_of_fold.uri)
    decision = decide(
        predictions.correct,
        len(predictions.keys),
        *needed_and_count(settings["bar"]),
        model_blessing.get_int_custom_property("blessed") == 1,
    )
    plan = baseline_plan(model_blessing, settings["new_baseline"])
    record = {"bar": settings["bar"], "holdout": settings["holdout"], "plan": asdict(plan)}
    blessing.set_string_custom_property(RECORD_PROPERTY, json.dumps(record, sort_keys=True))
    for name, value in decision.items():
        blessing.set_int_custom_property(name, value)
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    blessing.set_string_custom_property(RULE_PROPERTY, RULE)
    tf.io.gfile.makedirs(blessing.uri)
    with tf.io.gfile.GFile(f"{blessing.uri}/{'BLESSED' if decision['blessed'] else 'NOT_BLESSED'}", "w") as f:
        f.write("")
    logging.info("blessing gate: %s", decision)
