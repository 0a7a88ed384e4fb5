"""Photos per label in DATA_DIR, as `tastebud prepare` wrote it: from summary.json, or, without
one, by counting the splits' TFRecords. The runners fix the blessing bar from these counts before
a run; `prepare` and the review warn about unbalanced classes (imbalance_warning)."""

from __future__ import annotations

import json

from preprocessing.contract import SUMMARY_FILE

SPLIT_PATTERNS = {"train": "train/*", "eval": "eval/*"}  # the splits' TFRecords under DATA_DIR
IMBALANCE_WARNING_RATIO = 3.0  # warn when the largest class has more than this times the smallest
REVIEW_ADVICE = "accuracy flatters the majority class, so read balanced accuracy and macro-F1"


def _summary(data_dir: str) -> dict | None:
    from apache_beam.io.filesystems import FileSystems

    path = f"{data_dir}/{SUMMARY_FILE}"  # through Beam's FileSystems, as `prepare` wrote it (gs:// too)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return json.load(f)


def summary_counts(summary: dict, splits: tuple[str, ...] = ("eval",)) -> dict[str, int]:
    """{label: photos in these splits} from a summary.json's content."""
    return {label: sum(int(c[split]) for split in splits) for label, c in summary["classes"].items()}


def _counted(data_dir: str, splits: tuple[str, ...]) -> dict[str, int]:
    from data.examples import read_examples
    from data.records import glob

    counts: dict[str, int] = {}
    files = sorted(f for split in splits for f in glob(f"{data_dir}/{SPLIT_PATTERNS[split]}"))
    for _, label, _ in read_examples(files):
        counts[label] = counts.get(label, 0) + 1
    return counts


def counts(data_dir: str, splits: tuple[str, ...]) -> dict[str, int]:
    """{label: photos in these splits}; from summary.json, else by reading the splits' records."""
    summary = _summary(data_dir)
    return summary_counts(summary, splits) if summary is not None else _counted(data_dir, splits)


def eval_counts(data_dir: str) -> dict[str, int]:
    """{label: eval photos}."""
    return counts(data_dir, ("eval",))


def labelled_counts(data_dir: str) -> dict[str, int]:
    """{label: train + eval photos}: every labelled photo, as the out-of-fold evidence judges them."""
    return counts(data_dir, ("train", "eval"))


def class_counts(data_dir: str) -> dict[str, int] | None:
    """{label: train + eval photos} from summary.json, or None without one."""
    summary = _summary(data_dir)
    return None if summary is None else summary_counts(summary, ("train", "eval"))


def imbalance_warning(
    counts: dict[str, int], ratio: float = IMBALANCE_WARNING_RATIO, advice: str = REVIEW_ADVICE
) -> str | None:
    """A warning when the largest class has more than `ratio` times the photos of the smallest."""
    if len(counts) < 2:
        return None
    (small, n_small), (large, n_large) = (
        min(counts.items(), key=lambda kv: kv[1]),
        max(counts.items(), key=lambda kv: kv[1]),
    )
    if n_large <= ratio * n_small:
        return None
    return f"unbalanced classes: {large!r} has {n_large} photos, {small!r} {n_small} (more than {ratio:g}x); {advice}"
