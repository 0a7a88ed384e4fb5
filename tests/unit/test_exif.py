"""EXIF orientation and DCT-scaled decoding in the graph (preprocessing/exif.py, images.py).

The decode ops alone. A 200-MP JPEG is tests/e2e/test_exif.py; the same photos through
Transform, the pushed model, the REST stand-in and the web app are tests/e2e/test_phone_photos.py.
"""

from __future__ import annotations

import io
import random
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from preprocessing.exif import _walk, exif_orientation
from preprocessing.images import decode_and_resize, decode_upright, jpeg_ratio
from tests.support import phone_photos as pp
from tests.support.common import SAMPLE

SIZE = 224
PHOTOS = sorted(SAMPLE.glob("*/*.jpg"))
orientation_of = tf.function(exif_orientation)
upright_of = tf.function(lambda b: decode_upright(b, SIZE))
resized = tf.function(lambda b: decode_and_resize(b, SIZE))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return pp.open_photo(PHOTOS[3].read_bytes())


@pytest.fixture(scope="module")
def plain(photo) -> bytes:
    return pp.jpeg(photo)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_orientation_decodes_upright(photo, plain, orientation):
    stored = pp.stored_with_tag(photo, orientation)
    viewer = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(stored))))
    assert viewer.shape == np.asarray(photo).shape  # the test photo itself is right: a viewer shows it upright
    assert int(orientation_of(tf.constant(stored))) == orientation
    got = upright_of(tf.constant(stored)).numpy().astype(float)
    want = upright_of(tf.constant(plain)).numpy().astype(float)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 1.0  # JPEG re-encoding error only (8-bit levels)
    if orientation != 1:  # ...while ignoring the tag would be far off
        raw = tf.io.decode_jpeg(stored, channels=3).numpy().astype(float)
        assert raw.shape != want.shape or np.abs(raw - want).mean() > 10


CORRUPT = {
    "IFD offset past the end": pp.tiff_block(ifd_offset=0xFFFFFFF0),
    "IFD offset just past the segment": pp.tiff_block(ifd_offset=30),
    "huge entry count": pp.tiff_block(count=0xFFFF),
    "count one too many": pp.tiff_block(count=2),
    "wrong byte order marker": pp.tiff_block(order=b"IM"),
    "byte order that lies (MM, little-endian data)": pp.tiff_block()[:6] + b"MM" + pp.tiff_block()[8:],
    "wrong TIFF magic": pp.tiff_block(magic=43),
    "orientation 0": pp.tiff_block(entries=[(0x0112, 3, 1, 0)]),
    "orientation 9": pp.tiff_block(entries=[(0x0112, 3, 1, 9)]),
    "orientation 0xFFFF": pp.tiff_block(entries=[(0x0112, 3, 1, 0xFFFF)]),
    "orientation as LONG": pp.tiff_block(entries=[(0x0112, 4, 1, 6)]),
    "orientation with count 2": pp.tiff_block(entries=[(0x0112, 3, 2, 6)]),
    "truncated after the TIFF header": pp.tiff_block()[:14],
    "truncated inside the entry": pp.tiff_block()[:22],
    "only the Exif header": b"Exif\x00\x00",
    "not Exif (XMP-like APP1)": b"http://ns.adobe.com/xap/1.0/\x00" + pp.tiff_block()[6:],
    "Exif header misspelt": b"Exif\x00\x01" + pp.tiff_block()[6:],
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_or_lying_exif_never_crashes_nor_changes_pixels(plain, case):
    broken = pp.with_app1(plain, CORRUPT[case])
    assert int(orientation_of(tf.constant(broken))) == 1
    np.testing.assert_array_equal(resized(tf.constant([broken])), resized(tf.constant([plain])))


def test_the_hand_made_tiff_block_is_read_when_it_is_honest(plain):
    """The control for CORRUPT: the same builder, untampered, is parsed (both byte orders)."""
    for order in (b"II", b"MM"):
        assert int(orientation_of(tf.constant(pp.with_app1(plain, pp.tiff_block(order=order))))) == 6
    second_app1 = pp.with_app1(pp.with_app1(plain, pp.tiff_block()), b"http://ns.adobe.com/xap/1.0/\x00<x/>")
    assert int(orientation_of(tf.constant(second_app1))) == 6  # found behind another APP1


def test_garbage_and_truncated_headers_give_orientation_1_without_crashing(plain):
    tagged = pp.with_app1(plain, pp.tiff_block())
    rng = random.Random(0)
    cut = [tagged[:30], tagged[:33]]  # cut inside the TIFF header, inside the entry
    cases = [b"", b"\xff", b"\xff\xd8", b"\xff\xd8\xff", b"\xff\xd8\xff\xe1", *cut]
    cases += [tagged[: rng.randrange(len(tagged))] for _ in range(30)]
    cases += [b"\xff\xd8\xff\xe1" + bytes(rng.randrange(256) for _ in range(rng.randrange(2, 80))) for _ in range(50)]
    orientations = [int(orientation_of(tf.constant(c))) for c in cases]
    assert all(1 <= o <= 8 for o in orientations)
    assert orientations[:7] == [1] * 7


def test_skipping_the_walk_without_an_exif_header_gives_what_the_walk_gives(plain):
    """exif_orientation searches the scanned bytes for b"Exif\\0\\0" and walks the markers only
    when it is there. On every kind of head, that must equal the walk itself, above all where
    the header sits behind a big APP2 segment or straddles the end of the scanned bytes."""
    scan = 4096
    walk = tf.function(lambda b: _walk(tf.strings.substr(b, 0, tf.minimum(tf.strings.length(b), scan))))
    fast = tf.function(lambda b: exif_orientation(b, scan_bytes=scan))
    tagged = pp.with_app1(plain, pp.tiff_block())
    icc = b"\xff\xd8\xff\xe2" + struct.pack(">H", 3002) + bytes(3000)  # an APP2 (ICC profile) first
    rng = random.Random(1)
    cases = [plain, tagged, icc + tagged[2:], *(pp.with_app1(plain, block) for block in CORRUPT.values())]
    # The APP1 starts at cut - 2: its orientation lies inside the scanned bytes up to cut 4068,
    # its header straddles their end at cuts 4089-4094.
    for cut in range(scan - 40, scan):
        filler = b"\xff\xe2" + struct.pack(">H", cut - 6) + bytes(cut - 8)
        cases.append(b"\xff\xd8" + filler + tagged[2:])
    cases += [tagged[: rng.randrange(len(tagged))] for _ in range(20)]
    cases += [b"\xff\xd8\xff\xe1" + bytes(rng.randrange(256) for _ in range(rng.randrange(2, 60))) for _ in range(40)]
    got = [(int(fast(tf.constant(c))), int(walk(tf.constant(c)))) for c in cases]
    assert [g for g, _ in got] == [w for _, w in got]
    assert got[1] == (6, 6) and got[2] == (6, 6)  # the control: a real tag, also behind the APP2
    assert {w for _, w in got[len(CORRUPT) + 3 : len(CORRUPT) + 43]} == {1, 6}  # found, then cut off


def test_non_jpeg_and_untagged_photos_decode_exactly_as_before(photo):
    """PNG/BMP/GIF/WebP go through decode_image untouched, Exif or not; so does every sample photo."""
    for fmt in ("PNG", "BMP", "GIF", "WEBP"):
        buffer = io.BytesIO()
        extra = {"exif": pp.orientation_exif(6)} if fmt in ("PNG", "WEBP") else {}
        photo.save(buffer, format=fmt, **extra)
        data = tf.constant(buffer.getvalue())
        np.testing.assert_array_equal(upright_of(data), tf.io.decode_image(data, channels=3, expand_animations=False))
    for path in PHOTOS:
        data = tf.constant(path.read_bytes())
        np.testing.assert_array_equal(upright_of(data), tf.io.decode_image(data, channels=3))


@pytest.mark.parametrize(
    "short_side, ratio",
    [(1, 1), (442, 1), (894, 1), (895, 2), (1000, 2), (1788, 2), (1789, 4), (3576, 4), (3577, 8), (12288, 8)],
)
def test_ratio_is_the_largest_that_keeps_the_short_side_twice_the_input(short_side, ratio):
    index = int(jpeg_ratio(tf.constant(short_side), SIZE, factor=2))
    assert (8, 4, 2, 1)[index] == ratio


@pytest.mark.parametrize("width, height, ratio", [(4032, 3024, 4), (3024, 4032, 4), (1800, 1200, 2)])
def test_big_jpegs_decode_scaled_and_oriented_close_to_a_full_decode(photo, width, height, ratio):
    big = pp.big_jpeg(photo, width, height)
    tagged = pp.jpeg(Image.open(io.BytesIO(big)).transpose(pp.STORE[6]), pp.orientation_exif(6), quality=90)
    full = tf.image.resize(tf.io.decode_jpeg(big, channels=3), [SIZE, SIZE], antialias=True).numpy()
    for data in (big, tagged):
        decoded = upright_of(tf.constant(data))
        assert tuple(decoded.shape[:2]) == (-(-height // ratio), -(-width // ratio))
        assert np.abs(resized(tf.constant([data]))[0].numpy() - full).mean() < 2.0
