"""What `tastebud prepare` writes beside the TFRecords: dict.txt, rejected.csv, skipped.csv
and summary.json, with the numbers taken from the output as read back (data.accounting)."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

from apache_beam.io.filesystems import FileSystems

from data import sources
from data.accounting import Written

TRAIN, EVAL = "train", "eval"
MIN_IMAGES_PER_CLASS = 10
MAX_CLASS_IMBALANCE = 3.0  # warn when the largest class has more than this many times the smallest
DICT_FILE, REJECTED_FILE, SKIPPED_FILE, SUMMARY_FILE = "dict.txt", "rejected.csv", "skipped.csv", "summary.json"
OUTPUT_FILES = (DICT_FILE, REJECTED_FILE, SKIPPED_FILE, SUMMARY_FILE)


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


def write_rows(path: str, rows: list[tuple[str, str]]) -> None:
    """A uri,reason CSV, sorted (rejected.csv, skipped.csv)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["uri", "reason"])
    writer.writerows(sorted(rows))
    write_text(path, buffer.getvalue())


def class_counts(written: list[Written]) -> dict[str, dict[str, int]]:
    per_class: dict[str, dict[str, int]] = defaultdict(lambda: {TRAIN: 0, EVAL: 0})
    for w in written:
        per_class[w.label][w.split] += 1
    return {label: per_class[label] for label in sorted(per_class)}


def class_warnings(per_class: dict[str, dict[str, int]]) -> list[str]:
    """Classes too small to learn or to evaluate, or very unbalanced: worth a warning, not a failure."""
    warnings = []
    for label, counts in per_class.items():
        total = counts[TRAIN] + counts[EVAL]
        if total < MIN_IMAGES_PER_CLASS:
            warnings.append(
                f"class {label!r} has only {total} images "
                f"(fewer than {MIN_IMAGES_PER_CLASS}); its accuracy will be unreliable"
            )
        elif counts[EVAL] == 0:
            warnings.append(f"class {label!r} has no eval images; raise --eval-fraction or add photos")
    sizes = {label: c[TRAIN] + c[EVAL] for label, c in per_class.items()}
    if len(sizes) > 1:
        largest, smallest = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
        if sizes[largest] > MAX_CLASS_IMBALANCE * sizes[smallest]:
            warnings.append(
                f"unbalanced classes: {largest!r} has {sizes[largest]} images, {smallest!r} only "
                f"{sizes[smallest]} (more than {MAX_CLASS_IMBALANCE:g}x); accuracy alone will flatter the "
                "model, read balanced accuracy in `tastebud review`"
            )
    return warnings


def build_summary(listing: sources.Listing, written: list[Written], rejected: list, labels: list[str]) -> dict:
    """summary.json: every number counted from the output read back; input = written + rejected + skipped."""
    per_class = class_counts(written)
    splits = {s: sum(c[s] for c in per_class.values()) for s in (TRAIN, EVAL)}
    warnings = class_warnings(per_class)
    warnings += [f"class {label!r} from the given dict.txt has no images" for label in labels if label not in per_class]
    return {
        "input": listing.total,
        "written": len(written),
        "rejected": len(rejected),
        "skipped": len(listing.skipped),
        "splits": splits,
        "classes": per_class,
        "labels": labels,
        "warnings": warnings,
    }


def write_outputs(out: str, summary: dict, skipped: list[sources.Skipped]) -> None:
    """skipped.csv, dict.txt (index i = line i) and summary.json; written only after the accounting held."""
    write_rows(f"{out}/{SKIPPED_FILE}", [(s.uri, s.reason) for s in skipped])
    write_text(f"{out}/{DICT_FILE}", "".join(f"{label}\n" for label in summary["labels"]))
    write_text(f"{out}/{SUMMARY_FILE}", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
