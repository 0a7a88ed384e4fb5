"""Lists labelled images from a folder of class sub-folders or a CSV of path_or_uri,label.

Both forms accept local paths and any URI Beam's FileSystems understands (gs:// with
apache-beam[gcp]). Listing happens on the launching machine; reading the bytes happens
in the Beam pipeline, so it scales out on Dataflow.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

HEADER_PATH_NAMES = {"path", "uri", "path_or_uri", "image", "file", "filename", "image_path", "image_uri"}


@dataclass(frozen=True)
class LabelledImage:
    uri: str
    label: str  # as written by the user; normalised later
    origin: str  # where the row came from, for messages ("row 12", "folder tulips")


@dataclass(frozen=True)
class BadRow:
    origin: str
    reason: str


def normalise_label(raw: str) -> str:
    """Labels compare case- and whitespace-insensitively: ' Tasty ' == 'tasty'."""
    return re.sub(r"\s+", " ", raw.strip()).casefold()


def _is_uri(path: str) -> bool:
    return "://" in path


def _join(base: str, relative: str) -> str:
    if _is_uri(relative) or relative.startswith("/"):
        return relative
    return posixpath.normpath(posixpath.join(base, relative)) if not _is_uri(base) else f"{base.rstrip('/')}/{relative}"


def _dirname(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else "."


def list_folder(root: str) -> list[LabelledImage]:
    """One sub-folder per class; every regular file in it is an input (non-images get rejected later)."""
    root = root.rstrip("/")
    matches = FileSystems.match([f"{root}/*/*"])[0].metadata_list
    items = []
    for meta in matches:
        relative = meta.path[len(root) + 1 :]
        label, _, name = relative.partition("/")
        if "/" in name:  # deeper nesting is not part of the layout
            continue
        items.append(LabelledImage(meta.path, label, f"folder {label}"))
    return sorted(items, key=lambda i: i.uri)


def _looks_like_header(row: list[str]) -> bool:
    return len(row) >= 2 and row[0].strip().lower() in HEADER_PATH_NAMES and row[1].strip().lower() == "label"


def parse_csv(text: str, base_dir: str) -> tuple[list[LabelledImage], list[BadRow]]:
    """Parses `path_or_uri,label` rows; relative paths resolve against base_dir.

    Handles a UTF-8 BOM, CRLF endings, quoted fields (commas inside paths), an optional
    header and blank lines. A row without exactly two fields is reported, not guessed at.
    """
    text = text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    items, bad = [], []
    for number, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if number == 1 and _looks_like_header(row):
            continue
        origin = f"row {number}"
        if len(row) != 2:
            bad.append(BadRow(origin, f"malformed CSV row: expected path_or_uri,label, got {len(row)} fields"))
            continue
        path = row[0].strip()
        if not path:
            bad.append(BadRow(origin, "empty path"))
            continue
        items.append(LabelledImage(_join(base_dir, path), row[1], origin))
    return items, bad


def read_csv(csv_uri: str) -> tuple[list[LabelledImage], list[BadRow]]:
    with FileSystems.open(csv_uri) as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{csv_uri} is not UTF-8 text: {e}") from None
    return parse_csv(text, _dirname(csv_uri))


def list_source(source: str) -> tuple[list[LabelledImage], list[BadRow]]:
    """Dispatches on the source's form: a .csv file, or a folder of class folders."""
    if source.lower().endswith(".csv"):
        if not FileSystems.exists(source):
            raise FileNotFoundError(f"CSV not found: {source}")
        return read_csv(source)
    if not _is_uri(source) and not FileSystems.exists(source):
        raise FileNotFoundError(f"source folder not found: {source}")
    items = list_folder(source)
    if not items:
        raise ValueError(f"{source} holds no class sub-folders with files (expected SOURCE/<label>/<image>)")
    return items, []
