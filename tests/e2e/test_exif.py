"""A 200-MP JPEG through the graph's decode (preprocessing/images.py): seconds and gigabytes,
so in the slow tier; the other decode tests are tests/unit/test_exif.py."""

from __future__ import annotations

import pytest
import tensorflow as tf

from preprocessing.images import decode_and_resize, decode_upright
from tests.support import phone_photos as pp
from tests.support.common import SAMPLE

pytestmark = pytest.mark.slow

SIZE = 224
upright_of = tf.function(lambda b: decode_upright(b, SIZE))
resized = tf.function(lambda b: decode_and_resize(b, SIZE))


@pytest.fixture(scope="module")
def photo():
    return pp.open_photo(sorted(SAMPLE.glob("*/*.jpg"))[3].read_bytes())


def test_a_200_mp_jpeg_that_tf_cannot_decode_whole_decodes_at_one_eighth(photo):
    """16384 x 12288: TF's decoder refuses the full 604-MB output; the graph decodes it at 1/8."""
    big = pp.big_jpeg(photo, 16384, 12288)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.io.decode_image(big, channels=3)
    assert upright_of(tf.constant(big)).shape == (1536, 2048, 3)
    assert resized(tf.constant([big])).shape == (1, SIZE, SIZE, 3)
