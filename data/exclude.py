"""`tastebud prepare --exclude FILE.csv`: inputs whose URI the CSV lists are skipped, with the reason.

FILE.csv needs a `uri` column; its other columns are ignored, so the data-health report
(uri,label,issue,suggested_label,score,other_uri) or near_duplicates.csv can be passed
as they are, once trimmed to the rows to drop. Read through Beam's FileSystems (local or
gs://). An excluded photo is skipped, not rejected: it sits in skipped.csv with
"skipped: excluded by FILE.csv", and input = written + rejected + skipped still holds.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import replace

from apache_beam.io.filesystems import FileSystems

from data import report, sources


def _normal(uri: str) -> str:
    return uri if "://" in uri else os.path.abspath(uri)


def read_uris(path: str) -> set[str]:
    """The `uri` column of a CSV. FileNotFoundError or ValueError (exit 2) when it cannot be used."""
    if not FileSystems.exists(path):
        raise FileNotFoundError(f"--exclude {path}: file not found")
    reader = csv.DictReader(io.StringIO(report.read_text(path).lstrip("\ufeff"), newline=""))
    if "uri" not in (reader.fieldnames or []):
        raise ValueError(f"--exclude {path} has no 'uri' column (its header: {','.join(reader.fieldnames or [])})")
    return {_normal(row["uri"]) for row in reader if row["uri"]}


def apply(listing: sources.Listing, path: str | None) -> sources.Listing:
    """The listing with every item the CSV at `path` names moved to `skipped`; unchanged without a path."""
    if not path:
        return listing
    uris = read_uris(path)
    excluded = [item for item in listing.items if _normal(item.uri) in uris]
    if not excluded:
        return listing
    skipped = [sources.Skipped(item.uri, f"skipped: excluded by {path}") for item in excluded]
    kept = [item for item in listing.items if _normal(item.uri) not in uris]
    return replace(listing, items=kept, skipped=listing.skipped + skipped)
