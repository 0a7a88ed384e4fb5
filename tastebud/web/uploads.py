"""Checks on uploaded files before they reach the model: count, size, type, decodability."""

from __future__ import annotations

from dataclasses import dataclass

from data.validate import DEFAULT_MAX_PIXELS, ImageCheck
from pipeline import configs

# Magic numbers of the formats the serving graph decodes.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp")
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Upload limits in bytes, files and pixels. The request limit is never below one full-size file."""

    max_file_bytes: int = int(configs.WEB_MAX_FILE_MB * MB)
    max_files: int = configs.WEB_MAX_FILES
    max_request_bytes: int = int(configs.WEB_MAX_REQUEST_MB * MB)  # the whole multipart body, held in memory
    max_pixels: int = DEFAULT_MAX_PIXELS  # the same limit `tastebud prepare` applies

    def __post_init__(self) -> None:
        room = self.max_file_bytes + int(configs.WEB_MULTIPART_OVERHEAD_MB * MB)
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
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    return None


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
