"""What the runners need to set the blessing gate before a run, and what they keep after it.

* eval_counts / class_counts: photos per label (eval split; train + eval), from `tastebud
  prepare`'s summary.json (or, without it, by counting the splits' TFRecords).
* latest_blessed_labels: the labels (assets.extra/dict.txt) of the model that TFX's
  LatestBlessedModelStrategy would pick as the baseline, read from ML Metadata.
* plan_baseline: whether to compare with that baseline. Index i must mean the same
  class in both models, so a changed label set (a class added, removed or renamed)
  skips the comparison, and so does --new-baseline.
* write_record / read_record: the bar, the held-out check and the plan of one run, for
  `tastebud review`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import tensorflow as tf

from pipeline import configs
from pipeline.blessing import BlessingBar, HoldoutCheck


@dataclass(frozen=True)
class BaselinePlan:
    compare: bool  # give the Evaluator the last blessed model and a no-regression threshold
    reason: str  # one sentence for the runner's output and the review


def _summary(data_dir: str) -> dict | None:
    from apache_beam.io.filesystems import FileSystems

    from data.report import read_text

    path = f"{data_dir}/{configs.SUMMARY_FILE}"  # through Beam's FileSystems, as `prepare` wrote it (gs:// too)
    return json.loads(read_text(path)) if FileSystems.exists(path) else None


def summary_counts(summary: dict, splits: tuple[str, ...] = ("eval",)) -> dict[str, int]:
    """{label: photos in these splits} from a summary.json's content."""
    return {label: sum(int(c[split]) for split in splits) for label, c in summary["classes"].items()}


def _counted(data_dir: str, patterns: tuple[str, ...]) -> dict[str, int]:
    from data.examples import read_examples
    from data.records import glob

    counts: dict[str, int] = {}
    files = sorted(f for pattern in patterns for f in glob(f"{data_dir}/{pattern}"))
    for _, label, _ in read_examples(files):
        counts[label] = counts.get(label, 0) + 1
    return counts


def eval_counts(data_dir: str) -> dict[str, int]:
    """{label: eval photos}; from summary.json, else by reading DATA_DIR/eval/*."""
    summary = _summary(data_dir)
    if summary is not None:
        return summary_counts(summary)
    return _counted(data_dir, (configs.EVAL_SPLIT_PATTERN,))


def labelled_counts(data_dir: str) -> dict[str, int]:
    """{label: train + eval photos}; from summary.json, else by reading both splits."""
    summary = _summary(data_dir)
    if summary is not None:
        return summary_counts(summary, ("train", "eval"))
    return _counted(data_dir, (configs.TRAIN_SPLIT_PATTERN, configs.EVAL_SPLIT_PATTERN))


def class_counts(data_dir: str) -> dict[str, int] | None:
    """{label: train + eval photos} from summary.json, or None without one."""
    summary = _summary(data_dir)
    if summary is None:
        return None
    return summary_counts(summary, ("train", "eval"))


def _latest_blessed_model_dir(metadata_path: str) -> str | None:
    """The serving folder of the newest blessed model in this ML Metadata store, or None."""
    if not tf.io.gfile.exists(metadata_path):
        return None
    from pipeline import results
    from pipeline.gate import RULE, RULE_PROPERTY

    store = results.sqlite_store(metadata_path)
    blessings = [results._plain(a.custom_properties) for a in store.get_artifacts_by_type("ModelBlessing")]
    # The gate's blessings only, as the pipeline's resolver reads them (the Evaluator's are half the rule).
    model_ids = [
        int(b["current_model_id"])
        for b in blessings
        if b.get("blessed") == 1 and "current_model_id" in b and b.get(RULE_PROPERTY) == RULE
    ]
    if not model_ids:
        return None
    return f"{store.get_artifacts_by_id([max(model_ids)])[0].uri}/Format-Serving"


def latest_blessed_labels(metadata_path: str) -> list[str] | None:
    """Labels of the newest blessed model in this ML Metadata store; None if there is none yet."""
    model_dir = _latest_blessed_model_dir(metadata_path)
    if model_dir is None:
        return None
    path = f"{model_dir}/assets.extra/dict.txt"
    if not tf.io.gfile.exists(path):
        return []  # a model without its labels file: treat as a different label set
    with tf.io.gfile.GFile(path) as f:
        return [line.strip() for line in f if line.strip()]


def latest_blessed_signatures(metadata_path: str) -> frozenset[str] | None:
    """Signature names of the newest blessed model (read from saved_model.pb); None if none yet."""
    model_dir = _latest_blessed_model_dir(metadata_path)
    if model_dir is None or not tf.io.gfile.exists(f"{model_dir}/saved_model.pb"):
        return None
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(f"{model_dir}/saved_model.pb", "rb") as f:
        saved.ParseFromString(f.read())
    return frozenset(name for graph in saved.meta_graphs for name in graph.signature_def)


def plan_baseline(
    labels: list[str],
    previous: list[str] | None,
    new_baseline: bool = False,
    previous_signatures: frozenset[str] | None = None,
) -> BaselinePlan:
    """Compare with the last blessed model only when asked, its labels are ours in our order,
    and it has the signatures TFMA calls (previous_signatures; None: not checked)."""
    from models.export import LABEL_SIGNATURE

    if new_baseline:
        return BaselinePlan(False, "--new-baseline: this run blesses on the accuracy bar alone")
    if previous is None:
        return BaselinePlan(True, "no blessed model yet, so no baseline model to compare with")
    if previous_signatures is not None and LABEL_SIGNATURE not in previous_signatures:
        return BaselinePlan(
            False,
            f"the last blessed model was exported by an older tastebud (no {LABEL_SIGNATURE} signature for "
            "TFMA), so it cannot be evaluated the same way: no comparison with it; this run blesses on the "
            "accuracy bar alone",
        )
    if previous != labels:
        added, removed = sorted(set(labels) - set(previous)), sorted(set(previous) - set(labels))
        change = "; ".join(
            part
            for part in (
                f"added {', '.join(added)}" if added else "",
                f"removed {', '.join(removed)}" if removed else "",
                "reordered" if not added and not removed else "",
            )
            if part
        )
        return BaselinePlan(
            False,
            f"the label set changed since the last blessed model ({change}), so index i means another class: "
            "no comparison with it; this run blesses on the accuracy bar alone",
        )
    return BaselinePlan(True, "must be no worse than the last blessed model (same labels)")


def _record_path(pipeline_root: str, run_id: str) -> str:
    return f"{pipeline_root}/{configs.BLESSING_RECORD_DIR}/{run_id}.json"


@dataclass(frozen=True)
class Record:
    """What a run was judged against, written before it runs."""

    bar: BlessingBar  # the out-of-fold bar
    holdout: HoldoutCheck  # the Evaluator's floor on the eval split
    plan: BaselinePlan


def write_record(pipeline_root: str, run_id: str, record: Record) -> None:
    tf.io.gfile.makedirs(f"{pipeline_root}/{configs.BLESSING_RECORD_DIR}")
    with tf.io.gfile.GFile(_record_path(pipeline_root, run_id), "w") as f:
        f.write(json.dumps(asdict(record), indent=2))


def read_record(pipeline_root: str, run_id: str) -> Record | None:
    """The run's record; None without one, or for a run judged by an older rule (eval split only)."""
    path = _record_path(pipeline_root, run_id)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        record = json.load(f)
    if "holdout" not in record:
        return None
    return Record(BlessingBar(**record["bar"]), HoldoutCheck(**record["holdout"]), BaselinePlan(**record["plan"]))
