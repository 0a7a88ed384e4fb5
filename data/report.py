"""What `tastebud prepare` writes beside the TFRecords: dict.txt, rejected.csv, skipped.csv,
notes.csv and summary.json, with the numbers taken from the output as read back
(data.accounting); and the refusal of a single class, before any work."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from data import sources
from data.accounting import Written
from data.counts import imbalance_warning
from preprocessing.contract import (
    LABELS_FILE,
    NEAR_DUPLICATES_FILE,  # noqa: F401 (tests/e2e/test_gcs.py reads it from here)
    NOTES_FILE,
    SKIPPED_FILE,
    SUMMARY_FILE,
    labels_text,
)

TRAIN, EVAL = "train", "eval"
MIN_IMAGES_PER_CLASS = 10
NOTES = ("uri", "note")  # NOTES_FILE's header: photos written despite a decoder warning


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


def read_text(path: str) -> str:
    """A UTF-8 text file, local or gs:// (Beam's FileSystems, as everything `prepare` writes)."""
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read().decode("utf-8")


def write_rows(path: str, rows: list[tuple], header: tuple[str, ...] = ("uri", "reason")) -> None:
    """A uri,reason CSV, sorted (rejected.csv, skipped.csv; notes.csv: uri,note; near_duplicates.csv)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(sorted(rows))
    write_text(path, buffer.getvalue())


class WriteRows(beam.PTransform):
    """A PCollection of (uri, text) pairs -> one sorted CSV file (rejected.csv, notes.csv)."""

    def __init__(self, path: str, header: tuple[str, ...] = ("uri", "reason")):
        super().__init__()
        self.path, self.header = path, header

    def expand(self, rows):
        path, header = self.path, self.header
        return rows | beam.combiners.ToList() | beam.Map(lambda items: write_rows(path, items, header))


def refuse_single_class(listing: sources.Listing, source: str, excluded: int = 0) -> None:
    """Raises ValueError (exit 2, before any Beam work) when the inputs name a single class
    (`excluded`: how many --exclude left out, said when it is what left one class)."""
    labels = Counter(sources.normalise_label(i.label) for i in listing.items if sources.normalise_label(i.label))
    if len(labels) != 1:
        return
    ((label, count),) = labels.items()
    after = f" after --exclude left out {excluded} photos" if excluded else ""
    raise ValueError(
        f"{source} has a single class{after}, {label!r} ({count} photos): a classifier needs at least two classes to "
        f"learn anything. Add a second class, such as 'other' (photos that are not {label}), and run prepare again."
    )


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
        unmeasured = (
            "; it has no eval photo, so nothing measures how well it is recognised (the blessing cannot see it)"
            if counts[EVAL] == 0
            else f"; its accuracy rests on {counts[EVAL]} eval photo(s)"
        )
        if total < MIN_IMAGES_PER_CLASS:
            warnings.append(
                f"class {label!r} has only {total} images (fewer than {MIN_IMAGES_PER_CLASS}): the model learns it "
                f"from {counts[TRAIN]} training photo(s){unmeasured}. Add photos of it"
            )
        elif counts[EVAL] == 0:
            warnings.append(f"class {label!r} has no eval images{unmeasured}; raise --eval-fraction or add photos")
    sizes = {label: c[TRAIN] + c[EVAL] for label, c in per_class.items()}
    unbalanced = imbalance_warning(
        sizes, advice="accuracy alone will flatter the model, read balanced accuracy in `tastebud review`"
    )
    return warnings + ([unbalanced] if unbalanced else [])


def build_summary(
    listing: sources.Listing, written: list[Written], rejected: list, labels: list[str], noted: list = ()
) -> dict:
    """summary.json: every number counted from the output read back; input = written + rejected + skipped.

    `notes` says how the source was read (a cp1252 CSV, Windows paths) and how many
    photos decoded with a warning (noted: notes.csv's rows)."""
    per_class = class_counts(written)
    notes = list(listing.notes)
    if noted:
        notes.append(f"{len(noted)} photo(s) decoded with a warning from the image decoder: see {NOTES_FILE}")
    splits = {s: sum(c[s] for c in per_class.values()) for s in (TRAIN, EVAL)}
    warnings = class_warnings(per_class)
    warnings += [
        f"class {label!r} from the given {LABELS_FILE} has no images" for label in labels if label not in per_class
    ]
    return {
        "input": listing.total,
        "written": len(written),
        "rejected": len(rejected),
        "skipped": len(listing.skipped),
        "splits": splits,
        "classes": per_class,
        "labels": labels,
        "warnings": warnings,
        "notes": notes,
    }


def write_outputs(out: str, summary: dict, skipped: list[sources.Skipped]) -> None:
    """skipped.csv, dict.txt (index i = line i) and summary.json; written only after the accounting held."""
    write_rows(f"{out}/{SKIPPED_FILE}", [(s.uri, s.reason) for s in skipped])
    write_text(f"{out}/{LABELS_FILE}", labels_text(summary["labels"]))
    write_text(f"{out}/{SUMMARY_FILE}", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
