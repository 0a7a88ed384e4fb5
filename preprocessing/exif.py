"""EXIF orientation of a JPEG, read and applied with plain TensorFlow ops (no py_function).

Phones store a portrait photo sideways and set the EXIF Orientation tag (0x0112) to say
how a viewer must turn it. TensorFlow's decoders ignore the tag; these ops honour it, so
the Transform graph, the pushed serving graph and TF Serving all see what a viewer shows.

Parsing: walk the JPEG's markers from SOI to the first APP1 segment that starts with
"Exif\\0\\0" (stopping at SOS/EOI or anything malformed), read the TIFF header (byte order
"II" or "MM", magic 42, IFD0 offset), then IFD0's 12-byte entries for tag 0x0112 of type
SHORT and count 1. Every read is bounds-checked against the segment; any problem
(not a JPEG, no Exif, truncated, an offset past the end, an entry count that does not fit
the segment, a bad byte order or magic, a wrong type, a value outside 1..8) gives
orientation 1, which leaves the pixels untouched.

Most JPEGs a user brings from the web, a screenshot tool or an editor carry no Exif at
all, and for them the marker walk is the slow case: it visits every segment up to SOS.
One substring search for the "Exif\\0\\0" header in the scanned bytes skips the walk when
the header is not there. This is exact: without that header inside the scanned bytes the
walk finds no segment, or one whose TIFF header lies past their end and reads as zeros,
and returns 1 anyway (tests/unit/test_exif.py checks the two agree).
"""

from __future__ import annotations

import tensorflow as tf

from preprocessing.settings import EXIF_SCAN_BYTES

_SOI, _SOS, _EOI, _APP1 = 0xD8, 0xDA, 0xD9, 0xE1
_EXIF_HEADER = (0x45, 0x78, 0x69, 0x66, 0, 0)  # b"Exif\0\0"
_LITTLE, _BIG = 0x4949, 0x4D4D  # "II", "MM"
_TIFF_MAGIC = 42
_ORIENTATION_TAG, _SHORT = 0x0112, 3
_ENTRY_BYTES = 12


class _Bytes:
    """Bounds-safe reads from the scanned head of one encoded image (int64 results)."""

    def __init__(self, head: tf.Tensor):
        head = tf.io.decode_raw(head, tf.uint8)
        self.size = tf.cast(tf.size(head), tf.int64)
        self.data = tf.concat([head, tf.zeros([1], tf.uint8)], 0)  # data[size] is a safe 0 to read

    def u8(self, index: tf.Tensor) -> tf.Tensor:
        """Byte(s) at index (any shape); 0 outside the data."""
        inside = (index >= 0) & (index < self.size)
        return tf.cast(tf.gather(self.data, tf.where(inside, index, self.size)), tf.int64)

    def uint(self, index: tf.Tensor, width: int, little: tf.Tensor) -> tf.Tensor:
        """Unsigned integer of `width` bytes at index, little- or big-endian."""
        parts = [self.u8(index + i) for i in range(width)]
        big = tf.add_n([p * (256 ** (width - 1 - i)) for i, p in enumerate(parts)])
        small = tf.add_n([p * (256**i) for i, p in enumerate(parts)])
        return tf.where(little, small, big)


def _find_exif(data: _Bytes) -> tuple[tf.Tensor, tf.Tensor]:
    """(start of the TIFF header, end of its APP1 segment); start is -1 when there is none."""
    big = tf.constant(False)

    def step(pos, found, end, done):
        marker, kind = data.u8(pos), data.u8(pos + 1)
        length = data.uint(pos + 2, 2, big)
        header = data.u8(pos + 4 + tf.range(len(_EXIF_HEADER), dtype=tf.int64))
        is_exif = (kind == _APP1) & (length >= 8) & tf.reduce_all(tf.equal(header, _EXIF_HEADER))
        fill = (marker == 0xFF) & (kind == 0xFF)  # padding before a marker: skip one byte
        bad = (marker != 0xFF) | (kind == _SOS) | (kind == _EOI) | ((length < 2) & ~fill)
        found = tf.where(is_exif & ~fill & ~bad, pos + 10, found)
        end = tf.where(is_exif, tf.minimum(pos + 2 + length, data.size), end)
        next_pos = tf.where(fill, pos + 1, pos + 2 + length)
        return next_pos, found, end, bad | (found >= 0)

    def more(pos, found, end, done):
        return ~done & (pos + 4 <= data.size)

    is_jpeg = (data.u8(tf.constant(0, tf.int64)) == 0xFF) & (data.u8(tf.constant(1, tf.int64)) == _SOI)
    start = (tf.constant(2, tf.int64), tf.constant(-1, tf.int64), tf.constant(0, tf.int64), ~is_jpeg)
    _, found, end, _ = tf.while_loop(more, step, start, maximum_iterations=tf.cast(data.size, tf.int32))
    return found, end


def _orientation_in_tiff(data: _Bytes, tiff: tf.Tensor, end: tf.Tensor) -> tf.Tensor:
    """IFD0's orientation value (0 when absent or unreadable) of the TIFF block in [tiff, end)."""
    order = data.uint(tiff, 2, tf.constant(False))
    little = tf.equal(order, _LITTLE)
    header_ok = ((order == _LITTLE) | (order == _BIG)) & (data.uint(tiff + 2, 2, little) == _TIFF_MAGIC)
    ifd = tiff + data.uint(tiff + 4, 4, little)
    count = data.uint(ifd, 2, little)
    fits = (end - ifd - 2) // _ENTRY_BYTES  # entries that fit before the segment ends
    trusted = header_ok & (ifd + 2 <= end) & (count <= fits)  # a lying count means a corrupt IFD: no entries
    entries = ifd + 2 + _ENTRY_BYTES * tf.range(tf.where(trusted, count, 0))
    match = (
        (data.uint(entries, 2, little) == _ORIENTATION_TAG)
        & (data.uint(entries + 2, 2, little) == _SHORT)
        & (data.uint(entries + 4, 4, little) == 1)
    )
    values = tf.boolean_mask(data.uint(entries + 8, 2, little), match)
    return tf.cond(tf.size(values) > 0, lambda: values[0], lambda: tf.constant(0, tf.int64))


def exif_orientation(encoded: tf.Tensor, scan_bytes: int = EXIF_SCAN_BYTES) -> tf.Tensor:
    """Scalar encoded image -> int32 EXIF orientation in 1..8 (1: upright, absent, invalid or not JPEG).

    Only the first `scan_bytes` bytes are read: the Exif segment comes before the image data.
    """
    head = tf.strings.substr(encoded, 0, tf.minimum(tf.strings.length(encoded), scan_bytes))
    has_header = tf.size(tf.strings.split(head, sep=bytes(_EXIF_HEADER), maxsplit=1)) > 1
    return tf.cond(has_header, lambda: _walk(head), lambda: tf.constant(1, tf.int32))


def _walk(head: tf.Tensor) -> tf.Tensor:
    """The marker walk over a JPEG's scanned head: int32 orientation in 1..8."""
    data = _Bytes(head)
    tiff, end = _find_exif(data)
    value = tf.cond(tiff >= 0, lambda: _orientation_in_tiff(data, tiff, end), lambda: tf.constant(0, tf.int64))
    return tf.cast(tf.where((value >= 1) & (value <= 8), value, 1), tf.int32)


def apply_orientation(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """[height, width, channels] as stored -> as a viewer shows it, for orientation 1..8.

    Orientations 5-8 swap height and width. Values outside 1..8 leave the image as is.
    """
    branches = [
        lambda: image,  # 1: upright
        lambda: tf.image.flip_left_right(image),  # 2: mirrored
        lambda: tf.image.rot90(image, k=2),  # 3: upside down
        lambda: tf.image.flip_up_down(image),  # 4: mirrored upside down
        lambda: tf.image.transpose(image),  # 5: mirrored, turned
        lambda: tf.image.rot90(image, k=3),  # 6: stored turned 90° anticlockwise: turn clockwise
        lambda: tf.image.rot90(tf.image.transpose(image), k=2),  # 7: transverse
        lambda: tf.image.rot90(image, k=1),  # 8: stored turned 90° clockwise: turn anticlockwise
    ]
    index = tf.where((orientation >= 1) & (orientation <= 8), orientation - 1, 0)
    return tf.switch_case(index, branches)
