"""`tastebud prepare --exclude FILE.csv` (once or more): inputs whose URI a CSV lists are skipped.

FILE.csv needs a `uri` column (any case); its other columns are ignored, so the data-health
report (uri,label,issue,suggested_label,score,other_uri) or near_duplicates.csv can be
passed as they are, once trimmed to the rows to drop. It is read like prepare's own CSVs:
`,` `;` or tab separated, UTF-8 (BOM or not) or Excel's cp1252, through Beam's FileSystems
(local or gs://). An excluded photo is skipped, not rejected: it sits in skipped.csv with
"skipped: excluded by FILE.csv", and input = written + rejected + skipped still holds. Rows
that match no input are said in a note (a typo in the list would otherwise go unnoticed).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import replace

from apache_beam.io.filesystems import FileSystems

from data import sources
from data.csv_source import decode
from preprocessing.contract import DATA_HEALTH_CSV

SEPARATORS = (",", ";", "\t")


def _normal(uri: str) -> str:
    return uri if "://" in uri else os.path.abspath(uri)


def _uri_column(text: str) -> tuple[str, int] | None:
    """(separator, index of the `uri` column) from the header line, or None."""
    header = text.splitlines()[0] if text.strip() else ""
    for separator in SEPARATORS:
        names = [name.strip().lower() for name in next(csv.reader([header], delimiter=separator), [])]
        if "uri" in names:
            return separator, names.index("uri")
    return None


def read_uris(path: str) -> set[str]:
    """The `uri` column of a CSV. FileNotFoundError or ValueError (exit 2) when it cannot be used."""
    if "://" not in path and os.path.isdir(path):
        raise ValueError(f"--exclude {path} is a folder: pass a CSV file with a uri column (e.g. {DATA_HEALTH_CSV})")
    if not FileSystems.exists(path):
        raise FileNotFoundError(f"--exclude {path}: file not found")
    with FileSystems.open(path) as f:
        text, _note = decode(f.read(), path)
    column = _uri_column(text)
    if column is None:
        header = text.splitlines()[0] if text.strip() else "(empty file)"
        raise ValueError(f"--exclude {path} has no 'uri' column (its header: {header[:200]})")
    separator, index = column
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))[1:]
    return {_normal(row[index].strip()) for row in rows if len(row) > index and row[index].strip()}


def apply(listing: sources.Listing, paths: Sequence[str] | str | None) -> sources.Listing:
    """The listing with every item a CSV in `paths` names moved to `skipped` (the first CSV that
    names it gives the reason); unchanged without paths. Rows that match nothing become a note."""
    for path in [paths] if isinstance(paths, str) else list(paths or []):
        uris = read_uris(path)
        listed = {_normal(item.uri) for item in listing.items} | {_normal(s.uri) for s in listing.skipped}
        unmatched = sorted(uris - listed)
        notes = listing.notes + (
            [f"{len(unmatched)} of the {len(uris)} photos {path} lists are not in the source (e.g. {unmatched[0]})"]
            if unmatched
            else []
        )
        excluded = [item for item in listing.items if _normal(item.uri) in uris]
        skipped = [sources.Skipped(item.uri, f"skipped: excluded by {path}") for item in excluded]
        kept = [item for item in listing.items if _normal(item.uri) not in uris]
        listing = replace(listing, items=kept, skipped=listing.skipped + skipped, notes=notes)
    return listing


def excluded_count(listing: sources.Listing) -> int:
    return sum(s.reason.startswith("skipped: excluded by ") for s in listing.skipped)
