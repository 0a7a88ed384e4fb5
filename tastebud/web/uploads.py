"""Checks on uploaded files before they reach the model: count, size, type, decodability."""

from __future__ import annotations

from dataclasses import dataclass

from data.validate import DEFAULT_MAX_PIXELS, ImageCheck
from preprocessing import formats

ACCEPTED_TYPES = formats.ACCEPTED_TYPES  # the MIME types of the formats the serving graph decodes
MB = 1024 * 1024
# A 48-MP phone JPEG is 2-20 MB; the whole multipart body is held in memory (flags override).
MAX_FILE_MB = 32.0  # largest accepted photo
MAX_FILES = 16  # most photos per request
MAX_REQUEST_MB = 64.0  # the whole request; raised to fit one file of the per-file limit
MULTIPART_OVERHEAD_MB = 1.0  # room for the multipart framing around the largest file


@dataclass(frozen=True)
class Limits:
    """Upload limits in bytes, files and pixels. The request limit is never below one full-size file."""

    max_file_bytes: int = int(MAX_FILE_MB * MB)
    max_files: int = MAX_FILES
    max_request_bytes: int = int(MAX_REQUEST_MB * MB)  # the whole multipart body, held in memory
    max_pixels: int = DEFAULT_MAX_PIXELS  # the same limit `tastebud prepare` applies

    def __post_init__(self) -> None:
        room = self.max_file_bytes + int(MULTIPART_OVERHEAD_MB * MB)
        if self.max_request_bytes < room:
            object.__setattr__(self, "max_request_bytes", room)

    @classmethod
    def from_megabytes(cls, file_mb: float, files: int, request_mb: float) -> Limits:
        """The flags of `tastebud serve` (MB = 2**20 bytes)."""
        return cls(max_file_bytes=int(file_mb * MB), max_files=files, max_request_bytes=int(request_mb * MB))


class UploadError(ValueError):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def sniff_type(data: bytes) -> str | None:
    """The MIME type of the decodable format the bytes start as, else None."""
    found = formats.sniff(data, decodable=True)
    return found.mime_types[0] if found else None


def check_upload(filename: str, data: bytes, limits: Limits, decode: bool = True) -> ImageCheck:
    """Raises UploadError (with an HTTP status) for a file the model must not see.

    A file of an unsupported type gets a 415 with data.validate's own reason (which names
    the format it recognised, e.g. HEIC) and the list of accepted types. With decode=False
    only the signature and header are checked (data.validate.check_header, no pixels
    decoded): the caller's model decode is then the decodability check, and
    `decode_rejection` turns its error into the same 400 this check would have given.
    Returns the check (format, width and height from the header).
    """
    from data.validate import check_header, check_image

    if not data:
        raise UploadError(400, f"{filename}: empty file")
    if len(data) > limits.max_file_bytes:
        raise UploadError(413, f"{filename}: {len(data)} bytes exceeds the limit of {limits.max_file_bytes}")
    check = (check_image if decode else check_header)(data, limits.max_pixels)  # as `tastebud prepare` checks
    if sniff_type(data) is None:
        reason = check.reason or "not decodable by the model"
        accepted = ", ".join(ACCEPTED_TYPES)
        raise UploadError(415, f"{filename}: not a supported image: {reason} (accepted: {accepted})")
    if not check.ok:
        raise UploadError(400 if "too large" not in check.reason else 413, f"{filename}: {check.reason}")
    return check


def decode_rejection(filename: str, image_format: str, error: Exception) -> UploadError | None:
    """The 400 for an image the model's decoder refused (TensorFlow's InvalidArgument or
    Unknown error), with data.validate's reason; None for any other error (not the image's fault)."""
    import tensorflow as tf

    from data.validate import decode_failure

    if not isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.UnknownError)):
        return None
    return UploadError(400, f"{filename}: {decode_failure(image_format, error)}")
