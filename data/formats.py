"""Names the image formats TensorFlow cannot decode, from their signatures, with what to do.

Real photo folders hold iPhone HEIC photos, AVIF exports, scans (TIFF, PDF), drawings
(SVG), Photoshop files and camera RAW files. TensorFlow's decoders read JPEG, PNG, GIF,
BMP and WebP only, so these are rejected; the reason says what the file is and how to
turn it into something usable, instead of "not an image".

Signatures: ISO BMFF `ftyp` brands (ISO/IEC 14496-12; HEIF brands from ISO/IEC 23008-12,
AVIF from the AV1 image file format spec, CR3 from Canon's `crx` brand), TIFF byte-order
marks (TIFF 6.0 spec) and the RAW formats built on TIFF, `%PDF-`, `8BPS` (Adobe PSD),
`<svg`, and the magic strings of Fujifilm RAF and Panasonic RW2 / Olympus ORF.
"""

from __future__ import annotations

import re

_EXPORT = "export or convert it to JPEG (or PNG)"
HEIC_REASON = (
    "HEIC photo (iPhone's default): TensorFlow cannot decode it; export as JPEG, or set the camera to 'Most Compatible'"
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# Camera RAW files built on TIFF: the container looks like TIFF, the extension tells which.
_TIFF_RAW_EXTENSIONS = {
    "cr2": "Canon CR2",
    "nef": "Nikon NEF",
    "nrw": "Nikon NRW",
    "arw": "Sony ARW",
    "srf": "Sony SRF",
    "sr2": "Sony SR2",
    "dng": "Adobe DNG",
    "pef": "Pentax PEF",
    "raw": "camera RAW",
    "rwl": "Leica RWL",
    "3fr": "Hasselblad 3FR",
    "erf": "Epson ERF",
    "kdc": "Kodak KDC",
    "mef": "Mamiya MEF",
    "mos": "Leaf MOS",
    "srw": "Samsung SRW",
}


def _raw_reason(kind: str) -> str:
    return (
        f"camera RAW file ({kind}): TensorFlow cannot decode it; {_EXPORT} with the camera's "
        "software or a RAW converter, or set the camera to save JPEG"
    )


def _ftyp_brands(data: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO BMFF file (HEIF, AVIF, CR3, MP4...)."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(data[:4], "big")
    end = min(max(size, 16), len(data), 256)
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def _from_ftyp(brands: set[bytes]) -> str | None:
    if brands & _AVIF_BRANDS:
        return f"AVIF image: TensorFlow cannot decode it; {_EXPORT}"
    if brands & _HEIF_BRANDS:
        return HEIC_REASON
    if b"crx " in brands:
        return _raw_reason("Canon CR3")
    if brands & {b"isom", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp4", b"3gp5"}:
        return "video file, not a photo: TensorFlow cannot decode it; export a frame as JPEG"
    return None


def _from_tiff(data: bytes, name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if data[8:10] == b"CR":
        return _raw_reason("Canon CR2")
    if data[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return _raw_reason("Olympus ORF")
    if data[:4] == b"IIU\x00":
        return _raw_reason("Panasonic RW2")
    if extension in _TIFF_RAW_EXTENSIONS:
        return _raw_reason(_TIFF_RAW_EXTENSIONS[extension])
    return f"TIFF image: TensorFlow cannot decode it; {_EXPORT}"


_DECODABLE_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)


def decodable_signature(data: bytes) -> str | None:
    """The TF-decodable format a file's first bytes claim (JPEG, PNG, GIF, BMP, WEBP), else None."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _DECODABLE_SIGNATURES if data.startswith(magic)), None)


def identify_unsupported(data: bytes, name: str = "") -> str | None:
    """The reason a file in a known format TensorFlow cannot decode is rejected, else None.

    Args:
      data: the file's bytes (only the first few hundred are looked at).
      name: the file's name or URI; only its extension is used, to tell TIFF-based
        camera RAW files (NEF, ARW, DNG...) from plain TIFF.

    Returns:
      One readable line naming the format and what to do, or None when the signature is
      not one of the formats listed in this module's docstring.
    """
    head = data[:512]
    reason = _from_ftyp(_ftyp_brands(head))
    if reason:
        return reason
    if head[:4] in (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00"):
        return _from_tiff(head, name)
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return _raw_reason("Fujifilm RAF")
    if head.startswith(b"%PDF-"):
        return f"PDF document, not an image: {_EXPORT} (one file per page)"
    if head.startswith(b"8BPS"):
        return f"Photoshop PSD file: TensorFlow cannot decode it; {_EXPORT} from Photoshop"
    if re.search(rb"<svg[\s>]", head.lstrip(b"\xef\xbb\xbf").lower()):
        return f"SVG drawing (vector graphics): TensorFlow cannot decode it; {_EXPORT} at a fixed size"
    return None
