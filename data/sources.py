"""Lists labelled images from a folder of class sub-folders or a CSV of path_or_uri,label.

Both forms accept local paths and any URI Beam's FileSystems understands (gs:// with
apache-beam[gcp]). Listing happens on the launching machine; reading the bytes happens
in the Beam pipeline, so it scales out on Dataflow.

Folder rules (as Keras' `image_dataset_from_directory` treats a folder):
- each top-level sub-folder of SOURCE is a class; a file at any depth below it belongs
  to that class (`crème brûlée/2024 trip/x.jpg` is a `crème brûlée` photo);
- system files are never inputs of a class, and never a class: anything hidden (a name
  starting with "."), `__MACOSX/` trees, AppleDouble `._*` files, `Thumbs.db`,
  `desktop.ini`. They are listed as skipped, with the reason, and so are files lying
  directly in SOURCE (outside every class folder);
- symbolic links are followed (a loop is visited once); a dangling one stays an input
  and is rejected when read, with the reason.
The rule applies only below the user's own root: to the path below SOURCE for a folder,
and, for a CSV (data.csv_source), to the listed file's own name and the folders below
the CSV's folder. A photo under `~/.keras/datasets/` is not a hidden file.
"""

from __future__ import annotations

import os
import re

from apache_beam.io.filesystems import FileSystems

from data.csv_source import read_csv
from data.listing import BadRow, LabelledImage, Listing, Skipped, system_file_reason

__all__ = [
    "BadRow",
    "LabelledImage",
    "Listing",
    "Skipped",
    "list_folder",
    "list_source",
    "list_unlabelled",
    "normalise_label",
    "system_file_reason",
]


def normalise_label(raw: str) -> str:
    """Labels compare case- and whitespace-insensitively: ' Tasty ' == 'tasty'."""
    return re.sub(r"\s+", " ", raw.strip()).casefold()


def _is_uri(path: str) -> bool:
    return "://" in path


def _walk_local(root: str, unreadable: list[BadRow]) -> list[str]:
    """Every non-folder entry below root (dangling links included), following folder links once."""
    found, seen = [], set()

    def on_error(error: OSError) -> None:  # a folder that cannot be listed: its files are unknown
        unreadable.append(BadRow(f"folder {error.filename}", f"unreadable folder: {error.strerror}"))

    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back to a folder already listed: its files are listed
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        found += [os.path.join(folder, name) for name in files]
    return found


def _walk(root: str, unreadable: list[BadRow]) -> list[str]:
    if not _is_uri(root):
        return _walk_local(root, unreadable)
    # Object stores: "folder/" placeholder objects are not files.
    return [m.path for m in FileSystems.match([f"{root}/**"])[0].metadata_list if not m.path.endswith("/")]


def list_folder(root: str) -> Listing:
    """One sub-folder per class; every file below it is an input (non-images get rejected later)."""
    root = root.rstrip("/")
    listing = Listing(items=[])
    for uri in sorted(_walk(root, listing.bad_rows)):
        relative = uri[len(root) + 1 :]
        label, _, rest = relative.partition("/")
        reason = system_file_reason(relative)
        if reason:
            listing.skipped.append(Skipped(uri, reason))
        elif not rest:
            listing.skipped.append(Skipped(uri, "skipped: not inside a class folder (SOURCE/<label>/...)"))
        else:
            listing.items.append(LabelledImage(uri, label, f"folder {label}"))
    return listing


def list_unlabelled(paths: list[str]) -> Listing:
    """Files to label (`tastebud predict`): each path is a file, a folder or a gs:// prefix.

    Folders are walked recursively with the same system-file rule as a class folder; a
    file named on the command line is always an input, even a missing one (it is then
    rejected when read, with the reason).
    """
    listing = Listing(items=[])
    for path in paths:
        path = path.rstrip("/") if len(path) > 1 else path
        if (_is_uri(path) and not FileSystems.exists(path)) or os.path.isdir(path):
            for uri in sorted(_walk(path, listing.bad_rows)):
                reason = system_file_reason(uri[len(path) + 1 :])
                if reason:
                    listing.skipped.append(Skipped(uri, reason))
                else:
                    listing.items.append(LabelledImage(uri, "", f"under {path}"))
        else:
            listing.items.append(LabelledImage(path, "", "argument"))
    return listing


def list_source(source: str) -> Listing:
    """Dispatches on the source's form: a .csv file, or a folder of class folders."""
    if source.lower().endswith(".csv"):
        if not FileSystems.exists(source):
            raise FileNotFoundError(f"CSV not found: {source}")
        return read_csv(source)
    if not _is_uri(source) and not FileSystems.exists(source):
        raise FileNotFoundError(f"source folder not found: {source}")
    listing = list_folder(source)
    if not listing.items:
        raise ValueError(f"{source} holds no class sub-folders with files (expected SOURCE/<label>/<image>)")
    return listing
