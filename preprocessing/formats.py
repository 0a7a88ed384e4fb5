"""The image formats tastebud meets, in one table: name, magic bytes, MIME types, extensions,
and whether TensorFlow's decoders read it.

tf.io.decode_image reads JPEG, PNG, GIF (its first frame), BMP and WebP; everything else
here is named so that it can be refused with a reason (data/formats.py) instead of "not an
image". Imports nothing of the project and no TensorFlow (the web app sniffs uploads with it).

Signatures: ISO BMFF `ftyp` brands (ISO/IEC 14496-12; HEIF brands from ISO/IEC 23008-12,
AVIF from the AV1 image file format spec, CR3 from Canon's `crx` brand), TIFF byte-order
marks (TIFF 6.0 spec) and the RAW formats built on TIFF (told apart by extension), `%PDF-`,
`8BPS` (Adobe PSD), `<svg`, and the magic strings of Fujifilm RAF and Panasonic RW2 / Olympus ORF.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

HEAD_BYTES = 512  # the tests read no further into a file


@dataclass(frozen=True)
class ImageFormat:
    name: str  # Pillow's format name for those Pillow reads (JPEG, PNG, GIF, BMP, WEBP, TIFF)
    description: str  # as a person names it
    mime_types: tuple[str, ...]  # the first is the one to send
    extensions: tuple[str, ...]  # lower case, no dot
    decodable: bool  # tf.io.decode_image decodes it
    magic: tuple[bytes, ...] = ()  # the file starts with one of these...
    test: Callable[[bytes, str], bool] | None = None  # ...or passes this (its first HEAD_BYTES, extension)
    kind: str = "image"  # image, raw (a camera RAW file), document, drawing, video

    def matches(self, head: bytes, extension: str = "") -> bool:
        if self.magic:
            return head.startswith(self.magic)
        return bool(self.test and self.test(head, extension))


def ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO BMFF file (HEIF, AVIF, CR3, MP4...)."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(head[:4], "big")
    end = min(max(size, 16), len(head), 256)
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def _brands(*brands: bytes) -> Callable[[bytes, str], bool]:
    return lambda head, _: bool(ftyp_brands(head) & set(brands))


_TIFF = (b"II*\x00", b"MM\x00*")
_ORF, _RW2 = (b"IIRO", b"IIRS", b"MMOR"), (b"IIU\x00",)


def _is_webp(head: bytes, _: str) -> bool:
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_cr2(head: bytes, extension: str) -> bool:
    return head[:4] in _TIFF + _ORF + _RW2 and head[8:10] == b"CR" or head[:4] in _TIFF and extension == "cr2"


def _is_svg(head: bytes, _: str) -> bool:
    return re.search(rb"<svg[\s>]", head.lstrip(b"\xef\xbb\xbf").lower()) is not None


def _raw(name: str, description: str, mime: tuple[str, ...] = (), magic=(), test=None) -> ImageFormat:
    return ImageFormat(name, description, mime, (name.lower(),), False, magic, test, "raw")


def _tiff_raw(extension: str, description: str, mime: tuple[str, ...] = ()) -> ImageFormat:
    """A camera RAW file built on TIFF: a TIFF by its bytes, this format by its extension."""
    return _raw(extension.upper(), description, mime, test=lambda h, e: h[:4] in _TIFF and e == extension)


JPEG = ImageFormat("JPEG", "JPEG", ("image/jpeg",), ("jpg", "jpeg", "jpe", "jfif"), True, (b"\xff\xd8\xff",))
PNG = ImageFormat("PNG", "PNG", ("image/png",), ("png",), True, (b"\x89PNG\r\n\x1a\n",))
GIF = ImageFormat("GIF", "GIF", ("image/gif",), ("gif",), True, (b"GIF87a", b"GIF89a"))
BMP = ImageFormat("BMP", "BMP", ("image/bmp", "image/x-ms-bmp"), ("bmp",), True, (b"BM",))
WEBP = ImageFormat("WEBP", "WebP", ("image/webp",), ("webp",), True, test=_is_webp)
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")
HEIC = ImageFormat(
    "HEIC", "HEIC photo", ("image/heic", "image/heif"), ("heic", "heif", "hif"), False, test=_brands(*HEIF_BRANDS)
)
AVIF = ImageFormat("AVIF", "AVIF image", ("image/avif",), ("avif",), False, test=_brands(b"avif", b"avis"))
TIFF = ImageFormat("TIFF", "TIFF image", ("image/tiff",), ("tif", "tiff"), False, _TIFF)

# In the order they are tried: the first that matches names the file.
FORMATS: tuple[ImageFormat, ...] = (
    JPEG,
    PNG,
    GIF,
    BMP,
    WEBP,
    AVIF,  # before HEIC: an AVIF file lists the HEIF brand mif1 too
    HEIC,
    _raw("CR3", "Canon CR3", ("image/x-canon-cr3",), test=_brands(b"crx ")),
    ImageFormat(
        "VIDEO",
        "video file",
        ("video/mp4", "video/quicktime", "video/3gpp"),
        ("mp4", "mov", "m4v", "3gp"),
        False,
        test=_brands(b"isom", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp4", b"3gp5"),
        kind="video",
    ),
    _raw("CR2", "Canon CR2", ("image/x-canon-cr2",), test=_is_cr2),
    _raw("ORF", "Olympus ORF", ("image/x-olympus-orf",), _ORF),
    _raw("RW2", "Panasonic RW2", ("image/x-panasonic-rw2",), _RW2),
    _tiff_raw("nef", "Nikon NEF", ("image/x-nikon-nef",)),
    _tiff_raw("nrw", "Nikon NRW", ("image/x-nikon-nrw",)),
    _tiff_raw("arw", "Sony ARW", ("image/x-sony-arw",)),
    _tiff_raw("srf", "Sony SRF", ("image/x-sony-srf",)),
    _tiff_raw("sr2", "Sony SR2", ("image/x-sony-sr2",)),
    _tiff_raw("dng", "Adobe DNG", ("image/x-adobe-dng",)),
    _tiff_raw("pef", "Pentax PEF", ("image/x-pentax-pef",)),
    _tiff_raw("raw", "camera RAW"),
    _tiff_raw("rwl", "Leica RWL"),
    _tiff_raw("3fr", "Hasselblad 3FR"),
    _tiff_raw("erf", "Epson ERF"),
    _tiff_raw("kdc", "Kodak KDC", ("image/x-kodak-kdc",)),
    _tiff_raw("mef", "Mamiya MEF"),
    _tiff_raw("mos", "Leaf MOS"),
    _tiff_raw("srw", "Samsung SRW"),
    TIFF,
    _raw("RAF", "Fujifilm RAF", ("image/x-fuji-raf",), (b"FUJIFILMCCD-RAW",)),
    ImageFormat("PDF", "PDF document", ("application/pdf",), ("pdf",), False, (b"%PDF-",), kind="document"),
    ImageFormat("PSD", "Photoshop PSD file", ("image/vnd.adobe.photoshop",), ("psd",), False, (b"8BPS",)),
    ImageFormat("SVG", "SVG drawing", ("image/svg+xml",), ("svg",), False, test=_is_svg, kind="drawing"),
)
DECODABLE = tuple(f for f in FORMATS if f.decodable)
DECODABLE_NAMES = {f.name for f in DECODABLE}  # as Pillow names them
ACCEPTED_TYPES = tuple(f.mime_types[0] for f in DECODABLE)
DECODABLE_LIST = ", ".join(f.description for f in DECODABLE[:-1]) + f" or {DECODABLE[-1].description}"


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(data: bytes, name: str = "", decodable: bool | None = None) -> ImageFormat | None:
    """The first format of FORMATS that `data`'s first bytes (and `name`'s extension, for the
    RAW files built on TIFF) match; only among the decodable or the undecodable ones when given."""
    head, extension = data[:HEAD_BYTES], extension_of(name)
    candidates = FORMATS if decodable is None else (f for f in FORMATS if f.decodable == decodable)
    return next((f for f in candidates if f.matches(head, extension)), None)
