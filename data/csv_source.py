"""Reads a label CSV as people make them: Excel's encodings and separators, headers, Windows paths.

- Encoding: UTF-8, with or without a BOM (Excel's "CSV UTF-8"). When that fails,
  Windows-1252 (cp1252: Excel's "CSV" on a Western European Windows), with a note that says so.
- Separator: `,`, `;` (Excel where the decimal mark is a comma) or tab. The one whose
  reading gives two fields on most rows is used. Two separators that both read the file
  as two columns, with different labels, are never guessed between: the reading whose
  paths exist wins, and if that does not decide, the CSV is refused with both readings.
- Header: a first row whose cells name the columns (case-insensitive, either order):
  `path`/`file`/`filename`/`image`/`uri`/`url` and `label`/`class`/`category`/`tag`.
  Without one, rows are `path,label`. A first row that is neither a file nor a known
  header is reported as such (not as "file not found").
- Paths: relative ones resolve against the CSV's folder. A relative path with
  backslashes (`imgs\\0.jpg`) that is not found as written is read with `/`, and the
  summary says how many were.
- System files (data.listing.system_file_reason) are judged on the listed file's own
  name and, for relative paths, the folders below the CSV's folder: a photo under
  `~/.keras/datasets/` or `~/.cache/` is not a hidden file.
"""

from __future__ import annotations

import csv
import io
import posixpath

from apache_beam.io.filesystems import FileSystems

from data.listing import BadRow, LabelledImage, Listing, Skipped, system_file_reason

PATH_COLUMNS = {"path", "file", "filename", "image", "uri", "url", "path_or_uri", "image_path", "image_uri"}
LABEL_COLUMNS = {"label", "class", "category", "tag"}
SEPARATORS = {",": "','", ";": "';'", "\t": "tab"}
_EXISTENCE_SAMPLE = 20  # rows whose paths are looked up to settle between two readings


def decode(raw: bytes, name: str) -> tuple[str, str | None]:
    """(text, a note when it was not UTF-8)."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        utf8_error = e
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        raise ValueError(f"{name} is neither UTF-8 nor Windows-1252 (cp1252) text: {utf8_error}") from None
    where = f"{utf8_error.reason} at byte {utf8_error.start}"
    return text, f"{name} is not UTF-8 ({where}); read it as Windows-1252 (cp1252), Excel's encoding on Windows"


def _rows(text: str, separator: str) -> list[tuple[int, list[str]]]:
    """(row number, cells) of the non-blank rows."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    return [(n, row) for n, row in enumerate(reader, start=1) if row and any(cell.strip() for cell in row)]


def header_columns(row: list[str]) -> tuple[int, int] | None:
    """(path column, label column) when the row is a header naming both, else None."""
    names = [cell.strip().lstrip("\ufeff").lower() for cell in row]
    if len(names) != 2:
        return None
    if names[0] in PATH_COLUMNS and names[1] in LABEL_COLUMNS:
        return 0, 1
    if names[1] in PATH_COLUMNS and names[0] in LABEL_COLUMNS:
        return 1, 0
    return None


def _pairs(rows: list[tuple[int, list[str]]]) -> list[tuple[str, str]]:
    """(path, label) of the two-field rows, header excluded, in the header's column order."""
    columns = header_columns(rows[0][1]) if rows else None
    body = rows[1:] if columns else rows
    path_at, label_at = columns or (0, 1)
    return [(row[path_at].strip(), row[label_at].strip()) for _, row in body if len(row) == 2]


def _existing(pairs: list[tuple[str, str]], base_dir: str) -> int:
    return sum(FileSystems.exists(_resolve(path, base_dir)[0]) for path, _ in pairs[:_EXISTENCE_SAMPLE] if path)


def choose_separator(text: str, base_dir: str, name: str) -> tuple[str, str | None]:
    """(separator, a note when existing paths settled between two readings)."""
    readings = {sep: _rows(text, sep) for sep in SEPARATORS}
    pairs = {sep: _pairs(rows) for sep, rows in readings.items()}
    # Plausible: at least half the rows read as two fields. ',' first on ties (today's rule).
    plausible = [sep for sep in SEPARATORS if pairs[sep] and 2 * len(pairs[sep]) >= len(readings[sep]) - 1]
    if not plausible:
        return ",", None
    best = max(plausible, key=lambda sep: len(pairs[sep]))
    rivals = [sep for sep in plausible if sep != best and pairs[sep] != pairs[best]]
    if not rivals:
        return best, None
    found = {sep: _existing(pairs[sep], base_dir) for sep in [best, *rivals]}
    ranked = sorted(found, key=found.get, reverse=True)
    if found[ranked[0]] > found[ranked[1]]:
        chosen = ranked[0]
        others = ", ".join(SEPARATORS[sep] for sep in ranked[1:])
        return chosen, f"{name}: separated by {SEPARATORS[chosen]}, not {others}: its paths exist"
    readings_text = "; ".join(f"with {SEPARATORS[sep]} row 1 reads {pairs[sep][0]}" for sep in [best, *rivals])
    raise ValueError(
        f"{name} reads as two columns with more than one separator, giving different labels ({readings_text}). "
        "Use one separator, or quote the paths."
    )


def _is_uri(path: str) -> bool:
    return "://" in path


def join(base: str, relative: str) -> str:
    if _is_uri(relative) or relative.startswith("/"):
        return relative
    if _is_uri(base):
        return f"{base.rstrip('/')}/{relative}"
    return posixpath.normpath(posixpath.join(base, relative))


def below_csv_folder(path: str) -> str:
    """The part of a listed path the system-file rule judges: a relative path's folders
    below the CSV's folder and its name; only the name of an absolute path or URI."""
    if _is_uri(path) or path.startswith("/"):
        return path.rstrip("/").rsplit("/", 1)[-1]
    relative = posixpath.normpath(path.replace("\\", "/"))
    return relative.rsplit("/", 1)[-1] if relative == ".." or relative.startswith("../") else relative


def _resolve(path: str, base_dir: str) -> tuple[str, bool]:
    """(uri, whether it was read with '/' for '\\')."""
    uri = join(base_dir, path)
    if "\\" not in path or _is_uri(path) or path.startswith("/") or FileSystems.exists(uri):
        return uri, False
    forward = join(base_dir, path.replace("\\", "/"))
    return (forward, True) if FileSystems.exists(forward) else (uri, False)


def parse_csv(text: str, base_dir: str, name: str = "the CSV") -> Listing:
    """Lists the rows of a label CSV's text; relative paths resolve against base_dir."""
    text = text.lstrip("\ufeff")
    separator, note = choose_separator(text, base_dir, name)
    rows = _rows(text, separator)
    listing = Listing(items=[], notes=[note] if note else [])
    columns = header_columns(rows[0][1]) if rows else None
    path_at, label_at = columns or (0, 1)
    windows_paths = 0
    for index, (number, row) in enumerate(rows[1:] if columns else rows):
        origin = f"row {number}"
        if len(row) != 2:
            listing.bad_rows.append(
                BadRow(origin, f"malformed CSV row: expected path_or_uri,label, got {len(row)} fields")
            )
            continue
        path, label = row[path_at].strip(), row[label_at]
        if not path:
            listing.bad_rows.append(BadRow(origin, "empty path"))
            continue
        uri, forward = _resolve(path, base_dir)
        windows_paths += forward
        if index == 0 and not columns and not FileSystems.exists(uri):
            listing.bad_rows.append(BadRow(origin, first_row_reason(row)))
            continue
        reason = system_file_reason(below_csv_folder(path))
        if reason:
            listing.skipped.append(Skipped(uri, reason))
            continue
        listing.items.append(LabelledImage(uri, label, origin))
    if windows_paths:
        listing.notes.append(f"{windows_paths} Windows-style paths read with '/'")
    return listing


def first_row_reason(row: list[str]) -> str:
    return (
        f"the first row ({', '.join(cell.strip() for cell in row)}) is neither a file that exists nor a known "
        f"header (photo column: {'/'.join(sorted(PATH_COLUMNS - {'path_or_uri', 'image_path', 'image_uri'}))}; "
        f"label column: {'/'.join(sorted(LABEL_COLUMNS))})"
    )


def read_csv(csv_uri: str) -> Listing:
    with FileSystems.open(csv_uri, compression_type="uncompressed") as f:
        text, note = decode(f.read(), csv_uri)
    base_dir = csv_uri.rsplit("/", 1)[0] if "/" in csv_uri else "."
    listing = parse_csv(text, base_dir, csv_uri)
    listing.notes[:0] = [note] if note else []
    return listing
