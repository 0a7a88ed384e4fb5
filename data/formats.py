"""Names the image formats TF cannot decode, from their signatures, with what to do.

Real photo folders hold iPhone HEIC photos, AVIF exports, scans (TIFF, PDF), drawings
(SVG), Photoshop files and camera RAW files. TensorFlow's decoders read JPEG, PNG, GIF,
BMP and WebP only, so these are rejected; the reason says what the file is and how to
turn it into something usable, instead of "not an image". The formats, their signatures
and which ones TensorFlow decodes are preprocessing/formats.py's table.
"""

from __future__ import annotations

from preprocessing import formats

_EXPORT = "export or convert it to JPEG (or PNG)"
HEIC_REASON = (
    "HEIC photo (iPhone's default): TensorFlow cannot decode it; export as JPEG, or set the camera to 'Most Compatible'"
)
_REASONS = {  # the rest: "<description>: TensorFlow cannot decode it; export or convert it..."
    "HEIC": HEIC_REASON,
    "VIDEO": "video file, not a photo: TensorFlow cannot decode it; export a frame as JPEG",
    "PDF": f"PDF document, not an image: {_EXPORT} (one file per page)",
    "PSD": f"Photoshop PSD file: TensorFlow cannot decode it; {_EXPORT} from Photoshop",
    "SVG": f"SVG drawing (vector graphics): TensorFlow cannot decode it; {_EXPORT} at a fixed size",
}


def _reason(found: formats.ImageFormat) -> str:
    if found.kind == "raw":
        return (
            f"camera RAW file ({found.description}): TensorFlow cannot decode it; {_EXPORT} with the camera's "
            "software or a RAW converter, or set the camera to save JPEG"
        )
    return _REASONS.get(found.name, f"{found.description}: TensorFlow cannot decode it; {_EXPORT}")


def decodable_signature(data: bytes) -> str | None:
    """The TF-decodable format a file's first bytes claim (JPEG, PNG, GIF, BMP, WEBP), else None."""
    found = formats.sniff(data, decodable=True)
    return found.name if found else None


def identify_unsupported(data: bytes, name: str = "") -> str | None:
    """The reason a file in a known format TensorFlow cannot decode is rejected, else None.

    Args:
      data: the file's bytes (only the first few hundred are looked at).
      name: the file's name or URI; only its extension is used, to tell TIFF-based
        camera RAW files (NEF, ARW, DNG...) from plain TIFF.

    Returns:
      One readable line naming the format and what to do, or None when the signature is
      not one of preprocessing/formats.py's undecodable formats.
    """
    found = formats.sniff(data, name, decodable=False)
    return _reason(found) if found else None
