"""Photos as phones store them, made from the bundled sample with Pillow (bench/; tests/support/phone_photos.py).

* `stored_with_tag(image, o)`: the pixels turned/flipped the way a phone stores them, with
  EXIF Orientation `o`, so that a viewer (Pillow's exif_transpose) shows `image` again.
* `with_app1(jpeg, payload)`: a JPEG with a hand-made APP1 segment, for corrupt Exif.
* `tiff_block(...)`: a TIFF header + IFD0 with chosen (lying) fields.
* `big_jpeg(image, width, height)`, `phone_48mp(image)`: sample photos at phone-camera size.
* `HEIC_HEAD`: what an iPhone may upload instead of a JPEG.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageChops

T = Image.Transpose
# Pillow transpose that *stores* an upright photo under each orientation (the inverse of
# what a viewer applies; 6 and 8 swap, the others undo themselves).
STORE = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}
ORIENTATION_TAG = 0x0112
JPEG_QUALITY = 95


def block_aligned(image: Image.Image) -> Image.Image:
    """RGB, cropped to multiples of 16 px, so turning it keeps JPEG's 8x8 blocks aligned."""
    image = image.convert("RGB")
    return image.crop((0, 0, image.width // 16 * 16, image.height // 16 * 16))


def jpeg(image: Image.Image, exif: bytes = b"", quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes (4:4:4, no chroma subsampling: re-encoding error stays small)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, subsampling=0, exif=exif)
    return buffer.getvalue()


def orientation_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def stored_with_tag(image: Image.Image, orientation: int, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG of `image` stored as a phone would under `orientation` (1..8), tag included."""
    transpose = STORE[orientation]
    stored = image if transpose is None else image.transpose(transpose)
    return jpeg(stored, orientation_exif(orientation), quality)


def open_photo(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return block_aligned(image)


def with_app1(jpeg_bytes: bytes, payload: bytes, declared_length: int | None = None) -> bytes:
    """Inserts an APP1 segment (FF E1, big-endian length, payload) right after SOI."""
    length = len(payload) + 2 if declared_length is None else declared_length
    return jpeg_bytes[:2] + b"\xff\xe1" + struct.pack(">H", length) + payload + jpeg_bytes[2:]


def tiff_block(
    order: bytes = b"II",
    ifd_offset: int = 8,
    count: int | None = None,
    entries: list[tuple[int, int, int, int]] | None = None,
    magic: int = 42,
) -> bytes:
    """b"Exif\\0\\0" + TIFF header + IFD0. entries: (tag, type, count, value); count None = len(entries)."""
    entries = [(ORIENTATION_TAG, 3, 1, 6)] if entries is None else entries
    fmt = "<" if order == b"II" else ">"
    body = order + struct.pack(fmt + "HI", magic, ifd_offset)
    body += struct.pack(fmt + "H", len(entries) if count is None else count)
    for tag, kind, n, value in entries:
        body += struct.pack(fmt + "HHIHH", tag, kind, n, value, 0)
    return b"Exif\x00\x00" + body + b"\x00\x00\x00\x00"


def big_jpeg(image: Image.Image, width: int, height: int, quality: int = 90, grain: float = 0) -> bytes:
    """`image` upscaled to width x height (a phone camera's pixel count). `grain` (Gaussian sigma in
    8-bit levels) adds sensor-like noise, which makes the file as big as a phone's."""
    big = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    if grain:
        noise = Image.effect_noise((width, height), grain)  # centred on 128
        big = ImageChops.add(big, Image.merge("RGB", [noise] * 3), 1.0, -128)
    return jpeg(big, quality=quality)


def phone_48mp(image: Image.Image) -> bytes:
    """A 48-MP (8064 x 6048) JPEG of about 20 MB, as big as a phone's biggest."""
    return big_jpeg(image, 8064, 6048, quality=95, grain=6)


# The start of an iPhone HEIC: the ftyp box (brand heic, compatible mif1/heic), then a meta box.
HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00\x00\x00\x22meta" + bytes(30)
