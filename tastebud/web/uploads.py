"""Checks on uploaded files before they reach the model: count, size, type, decodability."""

from __future__ import annotations

from dataclasses import dataclass

from data.formats import identify_unsupported
from data.validate import DEFAULT_MAX_PIXELS

# Magic numbers of the formats the serving graph decodes.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 10 * 1024 * 1024
    max_files: int = 16
    max_request_bytes: int = 50 * 1024 * 1024  # the whole multipart body, held in memory
    max_pixels: int = DEFAULT_MAX_PIXELS


class UploadError(ValueError):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def sniff_type(data: bytes) -> str | None:
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    return None


def check_upload(filename: str, data: bytes, limits: Limits) -> None:
    """Raises UploadError (with an HTTP status) for a file the model must not see."""
    from data.validate import check_image

    if not data:
        raise UploadError(400, f"{filename}: empty file")
    if len(data) > limits.max_file_bytes:
        raise UploadError(413, f"{filename}: {len(data)} bytes exceeds the limit of {limits.max_file_bytes}")
    if sniff_type(data) is None:
        named = identify_unsupported(data, filename)  # HEIC, AVIF, RAW...: say what it is and what to do
        raise UploadError(
            415, f"{filename}: {named or 'not a supported image'} (accepted: {', '.join(ACCEPTED_TYPES)})"
        )
    check = check_image(data, limits.max_pixels)  # the same check `tastebud prepare` applies
    if not check.ok:
        raise UploadError(400 if "too large" not in check.reason else 413, f"{filename}: {check.reason}")
