"""The baseline model: the last blessed model, which a candidate must not be worse than.

TFX's Resolver (LatestBlessedModelStrategy) finds it inside the run; the Evaluator
(pipeline/evaluator.py) asks plan_baseline whether it can be compared with the candidate at
all before TFMA runs. Index i must mean the same class in both models, so a changed label set
(a class added, removed, renamed or reordered) drops the comparison, and so does a model from an
older tastebud without the signature TFMA calls, and --new-baseline. Both models' labels are
read from their own exports (assets.extra/dict.txt), so local and Vertex runs decide alike.

(Not the majority rate: that is the no-skill answer the out-of-fold bar is tested against,
pipeline/blessing.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

from preprocessing.contract import LABEL_SIGNATURE, MODEL_LABELS_FILE, SAVED_MODEL_FILE, SERVING_MODEL_DIR, read_labels

NEW_BASELINE_REASON = "--new-baseline: this run blesses on the accuracy bar alone"
NO_BASELINE_REASON = "no blessed model yet, so no baseline model to compare with"
SAME_LABELS_REASON = "must be no worse than the last blessed model (same labels)"


@dataclass(frozen=True)
class BaselinePlan:
    compare: bool  # the Evaluator compares with the last blessed model (a no-regression threshold)
    reason: str  # one sentence for the runner's output and the review


def plan_baseline(
    labels: list[str],
    previous: list[str] | None,
    new_baseline: bool = False,
    previous_signatures: frozenset[str] | None = None,
) -> BaselinePlan:
    """Compare with the last blessed model (labels `previous`; None: there is none) only when
    asked, its labels are ours in our order, and it has the signatures TFMA calls
    (previous_signatures; None: not checked)."""
    if new_baseline:
        return BaselinePlan(False, NEW_BASELINE_REASON)
    if previous is None:
        return BaselinePlan(True, NO_BASELINE_REASON)
    if previous_signatures is not None and LABEL_SIGNATURE not in previous_signatures:
        return BaselinePlan(
            False,
            f"the last blessed model was exported by an older tastebud (no {LABEL_SIGNATURE} signature for "
            "TFMA), so it cannot be evaluated the same way: no comparison with it; this run blesses on the "
            "accuracy bar alone",
        )
    if previous != labels:
        return BaselinePlan(
            False,
            f"the label set changed since the last blessed model ({_label_change(labels, previous)}), so index i "
            "means another class: no comparison with it; this run blesses on the accuracy bar alone, and if "
            "pushed it replaces that model under the same serving name (locally, --model-name NAME keeps both)",
        )
    return BaselinePlan(True, SAME_LABELS_REASON)


def _label_change(labels: list[str], previous: list[str]) -> str:
    added, removed = sorted(set(labels) - set(previous)), sorted(set(previous) - set(labels))
    parts = [f"added {', '.join(added)}" if added else "", f"removed {', '.join(removed)}" if removed else ""]
    return "; ".join(p for p in parts if p) or "reordered"


def exported_labels(model_uri: str) -> list[str]:
    """A Trainer model artefact's labels (Format-Serving/assets.extra/dict.txt); [] without the file."""
    import tensorflow as tf

    path = f"{model_uri}/{SERVING_MODEL_DIR}/{MODEL_LABELS_FILE}"
    if not tf.io.gfile.exists(path):
        return []  # a model without its labels file: treat as a different label set
    with tf.io.gfile.GFile(path, "rb") as f:
        return read_labels(f.read())


def exported_signatures(model_uri: str) -> frozenset[str] | None:
    """A Trainer model artefact's signature names (from saved_model.pb); None without one."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    path = f"{model_uri}/{SERVING_MODEL_DIR}/{SAVED_MODEL_FILE}"
    if not tf.io.gfile.exists(path):
        return None
    saved = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as f:
        saved.ParseFromString(f.read())
    return frozenset(name for graph in saved.meta_graphs for name in graph.signature_def)


def plan_for(candidate_uri: str, baseline_uri: str | None, new_baseline: bool = False) -> BaselinePlan:
    """plan_baseline for two Trainer model artefacts (baseline_uri None: the Resolver found none)."""
    if baseline_uri is None or new_baseline:
        return plan_baseline(exported_labels(candidate_uri), None, new_baseline)
    return plan_baseline(
        exported_labels(candidate_uri), exported_labels(baseline_uri), False, exported_signatures(baseline_uri)
    )
