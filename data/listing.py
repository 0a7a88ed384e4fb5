"""What listing a source finds: labelled images, bad rows, skipped system files.

Shared by data.sources (folders) and data.csv_source (CSVs), so neither imports the other
for its types. The system-file rule is documented in data.sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelledImage:
    uri: str
    label: str  # as written by the user; normalised later
    origin: str  # where the row came from, for messages ("row 12", "folder tulips")


@dataclass(frozen=True)
class BadRow:
    origin: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    uri: str
    reason: str  # starts with "skipped: "


@dataclass
class Listing:
    """Everything found under SOURCE: input = items + bad_rows + skipped."""

    items: list[LabelledImage]
    bad_rows: list[BadRow] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the source was read (encoding, Windows paths)

    @property
    def total(self) -> int:
        return len(self.items) + len(self.bad_rows) + len(self.skipped)


SYSTEM_FILE_NAMES = {"thumbs.db": "Windows thumbnail cache", "desktop.ini": "Windows folder settings"}


def system_file_reason(relative_path: str) -> str | None:
    """Why a path (relative to SOURCE, or as written in a CSV) is a system file, or None."""
    parts = [part for part in relative_path.replace("\\", "/").split("/") if part not in ("", ".", "..")]
    for part in parts:
        if part == "__MACOSX":
            return "skipped: system file (macOS archive metadata, __MACOSX)"
    name = parts[-1] if parts else ""
    if name.startswith("._"):
        return "skipped: system file (macOS AppleDouble resource file, ._*)"
    if name.lower() in SYSTEM_FILE_NAMES:
        return f"skipped: system file ({SYSTEM_FILE_NAMES[name.lower()]}, {name})"
    if any(part.startswith(".") for part in parts):
        return "skipped: system file (hidden file or folder)"
    return None
