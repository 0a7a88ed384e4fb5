"""BlessingGate: the blessing the Pusher and the next run's baseline resolver read.

It blesses the Trainer's model when both parts of pipeline/blessing.py's rule hold:

1. the out-of-fold (OOF) predictions (models/out_of_fold.py) get at least `needed_correct`
   of `photo_count` photos right: the one-sided binomial bar against the majority rate,
   computed by the runner before the run;
2. the Evaluator (TFMA, the held-out eval split) blessed the model: its eval accuracy is
   not significantly below that bar, and it is no worse than the last blessed model.

It checks its inputs' promises at run time: the OOF artefact must hold every labelled
photo exactly once (photo_count, from `tastebud prepare`'s summary), and the Evaluator
must have judged this model. Its ModelBlessing carries TFX's `blessed`,
`current_model` and `current_model_id` properties, plus the evidence (`cv_correct`,
`cv_count`, `cv_needed`, `cv_passed`, `holdout_passed`) for the verdict and the review.
"""

import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

RULE_PROPERTY = "rule"  # set on the gate's blessings (the ones that count as blessings)
RULE = "oof-binomial"
COMPONENT_ID = "BlessingGate"


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
    needed_correct: Parameter[int],
    photo_count: Parameter[int],
):
    """needed_correct: the bar as a count of right OOF answers (-1: no count can pass);
    photo_count: the labelled photos the bar is for (0: unknown, not checked)."""
    from absl import logging

    from models.out_of_fold import read

    judged = model_blessing.get_int_custom_property("current_model_id")
    if judged != model.id:
        raise ValueError(f"the Evaluator judged model {judged}, not the Trainer's model {model.id}")
    predictions = read(out_of_fold.uri)
    decision = decide(
        predictions.correct,
        len(predictions.keys),
        needed_correct,
        photo_count,
        model_blessing.get_int_custom_property("blessed") == 1,
    )
    for name, value in decision.items():
        blessing.set_int_custom_property(name, value)
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    blessing.set_string_custom_property(RULE_PROPERTY, RULE)
    tf.io.gfile.makedirs(blessing.uri)
    with tf.io.gfile.GFile(f"{blessing.uri}/{'BLESSED' if decision['blessed'] else 'NOT_BLESSED'}", "w") as f:
        f.write("")
    logging.info("blessing gate: %s", decision)
