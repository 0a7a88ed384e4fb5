"""The DataHealth component's report in `tastebud review`: which photos look mislabelled,
near-duplicated, out of place, blank, dark or blurry, and what to do about each.

The component's output artifact (key "report") holds data_health.csv
(uri,label,issue,suggested_label,score,other_uri; sorted by issue, then score, highest first)
and data_health.json ({"counts": {issue: n}, "photos": N, "seconds": s, "csv": path}). A run
without the component (older runs, --no-data-health) has no health section.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from data.report import read_text
from pipeline import results
from preprocessing.contract import DATA_HEALTH_CSV as CSV_FILE
from preprocessing.contract import DATA_HEALTH_JSON as JSON_FILE
from tastebud.thumbnails import photo_thumbnail

COMPONENT, KEY = "DataHealth", "report"
TOP = 12  # rows shown per issue, highest score first; the csv has them all
THUMBNAIL = 96
_REMOVE = (
    "if it is not a real example of its class, remove it from the photo folder (or your CSV), or list it "
    "for `tastebud prepare --exclude FILE.csv`"
)
ISSUES = {  # issue: (heading, what to do)
    "label": (
        "Possibly mislabelled",
        "Check the photo. If the suggested label is right, move it to that class's folder (or fix its label in "
        "your CSV); if it belongs to no class, list it in a CSV for `tastebud prepare --exclude FILE.csv`.",
    ),
    "near_duplicate": (
        "Near duplicates",
        "Each pair is kept in one split, so a copy cannot flatter the eval accuracy. If it is the same shot "
        "twice, remove one copy.",
    ),
    "outlier": ("Outliers", f"Unlike the rest of its class: {_REMOVE}."),
    "blank": ("Blank photos", f"Almost one colour: {_REMOVE}."),
    "dark": ("Dark photos", f"Mostly black: {_REMOVE}."),
    "blurry": ("Blurry photos", f"Little sharp detail: {_REMOVE}."),
}


@dataclass
class HealthRow:
    uri: str
    label: str
    issue: str
    suggested_label: str  # label rows only
    score: float
    other_uri: str  # near_duplicate rows only: the other photo of the pair


@dataclass
class HealthIssue:
    issue: str
    count: int
    rows: list[HealthRow]  # the top TOP by score

    @property
    def heading(self) -> str:
        return ISSUES.get(self.issue, (self.issue.replace("_", " "), ""))[0]

    @property
    def advice(self) -> str:
        return ISSUES.get(self.issue, ("", ""))[1]


@dataclass
class DataHealth:
    csv: str  # the full list: the artifact's data_health.csv
    issues: list[HealthIssue]  # issues with at least one photo, in ISSUES' order
    photos: int | None = None  # photos checked (data_health.json)
    seconds: float | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {i.issue: i.count for i in self.issues}

    def line(self) -> str:
        """One line for the text summary: counts per issue and where the csv is."""
        found = ", ".join(f"{n} {issue}" for issue, n in self.counts.items()) or "no issue found"
        checked = f" in {self.photos} photos" if self.photos is not None else ""
        return f"  data health: {found}{checked} ({self.csv})"


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def read_report(location: str, top: int = TOP) -> DataHealth:
    """data_health.csv (and data_health.json beside it, when there) from the artifact's uri or
    the csv's own path; local or gs://."""
    path = location if location.endswith(".csv") else f"{location.rstrip('/')}/{CSV_FILE}"
    rows = [
        HealthRow(
            r["uri"],
            r["label"],
            r["issue"],
            r.get("suggested_label") or "",
            _float(r["score"]),
            r.get("other_uri") or "",
        )
        for r in csv.DictReader(io.StringIO(read_text(path)))
    ]
    counts = Counter(r.issue for r in rows)
    order = [i for i in ISSUES if counts[i]] + [i for i in counts if i not in ISSUES]
    issues = []
    for issue in order:
        ranked = sorted((r for r in rows if r.issue == issue), key=lambda r: (math.isnan(r.score), -r.score))
        issues.append(HealthIssue(issue, counts[issue], ranked[:top]))
    summary_path = f"{path.rsplit('/', 1)[0]}/{JSON_FILE}" if "/" in path else JSON_FILE
    summary = json.loads(read_text(summary_path)) if FileSystems.exists(summary_path) else {}
    return DataHealth(path, issues, summary.get("photos"), summary.get("seconds"))


def find_health(runs: dict[str, results.ComponentRun]) -> DataHealth | None:
    """The run's DataHealth report, found through ML Metadata; None when the run has none."""
    run = runs.get(COMPONENT)
    artifact = run.output(KEY) if run else None
    if artifact is None or not FileSystems.exists(f"{artifact.uri.rstrip('/')}/{CSV_FILE}"):
        return None
    return read_report(artifact.uri)


def gallery(health: DataHealth, size: int = THUMBNAIL) -> list[tuple[HealthIssue, list[tuple]]]:
    """Per issue, (row, thumbnail, other photo's thumbnail) for the rows shown; a thumbnail is None
    when the photo cannot be read (the page shows "photo not found")."""
    cache: dict[str, str | None] = {}

    def thumb(uri: str) -> str | None:
        if uri and uri not in cache:
            cache[uri] = photo_thumbnail(uri, size)
        return cache.get(uri)

    return [(i, [(r, thumb(r.uri), thumb(r.other_uri)) for r in i.rows]) for i in health.issues]


def copy_csv(health: DataHealth, folder: Path) -> Path:
    """The full data_health.csv beside the review's HTML (from a local or gs:// artifact)."""
    target = folder / CSV_FILE
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(read_text(health.csv), encoding="utf-8")
    return target
