"""Proves, after every `prepare` run, that each input was written, rejected or skipped.

The Beam job's own counts are not trusted: a runner can drop elements without an error
(Beam 2.77's DirectRunner in `multi_threading` mode loses elements at a GroupByKey; see
README). So the launcher reads back what actually sits in the output, the TFRecord
files and rejected.csv, and compares it with the inputs it listed, as multisets of
URIs: every listed input must appear exactly once, and nothing else may appear. The
summary's numbers are taken from what was read back.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from data import records, sources

SPLITS = ("train", "eval")


class AccountingError(RuntimeError):
    """Inputs went missing (or appeared twice) between listing and the written output."""

    def __init__(self, missing: list[str], unexpected: list[str], job: str = "prepare"):
        self.missing, self.unexpected = missing, unexpected
        lines = [
            f"{job} lost data: {len(missing)} input(s) are neither written nor rejected, "
            f"{len(unexpected)} output(s) match no input. Nothing is usable; run it again and report this."
        ]
        lines += [f"  missing: {uri}" for uri in missing[:20]]
        lines += [f"  ... and {len(missing) - 20} more missing" for _ in [0] if len(missing) > 20]
        lines += [f"  unexpected: {uri}" for uri in unexpected[:20]]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Written:
    split: str
    label: str
    key: str


def bad_row_key(source: str, row: sources.BadRow) -> str:
    """How a CSV row that names no usable path appears in rejected.csv."""
    return f"{source} ({row.origin})"


def read_written(out: str) -> list[Written]:
    """(split, label, key) of every example in DATA_DIR's TFRecord files, read back (local or gs://)."""
    from data.examples import read_examples

    rows = []
    for split in SPLITS:
        files = records.glob(f"{out}/{split}/*.tfrecord.gz")
        rows += [Written(split, label, key) for key, label, _ in read_examples(files)]
    return rows


def read_rejected(path: str) -> list[tuple[str, str]]:
    """(uri, reason) rows of rejected.csv (or (uri, note) of notes.csv), header skipped."""
    with FileSystems.open(path) as f:
        rows = list(csv.reader(io.StringIO(f.read().decode("utf-8"), newline="")))
    return [(row[0], row[1]) for row in rows[1:]]


def check(listing: sources.Listing, source: str, written: list[Written], rejected: list[tuple[str, str]]) -> None:
    """Raises AccountingError unless written + rejected is exactly the listed inputs.

    Skipped files are decided on the launcher and cannot be lost; they are not compared.
    """
    expected = [item.uri for item in listing.items] + [bad_row_key(source, b) for b in listing.bad_rows]
    compare(expected, [w.key for w in written] + [uri for uri, _ in rejected])


def compare(expected: list[str], found: list[str], job: str = "prepare") -> None:
    """Raises AccountingError unless `found` holds each expected key exactly as often as `expected`."""
    expected_count, found_count = Counter(expected), Counter(found)
    missing, unexpected = expected_count - found_count, found_count - expected_count
    if missing or unexpected:
        raise AccountingError(sorted(missing.elements()), sorted(unexpected.elements()), job)


def run_job(job: Callable, cfg) -> tuple[dict | None, int]:
    """Runs `prepare` or batch `predict`: (summary, 0), or (None, exit code) after one `error:` line.

    Bad input or settings (a missing source, refused runner flags) exit 2; lost data exits 1.
    """
    try:
        return job(cfg), 0
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return None, 2
    except AccountingError as e:
        print(f"error: {e}", file=sys.stderr)
        return None, 1
