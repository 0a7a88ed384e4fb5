"""Checks that an image's bytes decode exactly as the Transform graph will decode them.

Pillow reads the header first (format and dimensions, without decoding pixels), so a
decompression bomb is rejected by its pixel count before any memory is spent on it.
Then TensorFlow's own decoder, the one the pipeline and the serving graph use, must
decode the bytes fully to the size the header promised.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

# Formats tf.io.decode_image reads (GIF: its first frame). Anything else is rejected:
# the pipeline and the serving graph could not read it either.
TF_DECODABLE_FORMATS = {"JPEG", "PNG", "GIF", "BMP", "WEBP"}
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ImageCheck:
    ok: bool
    reason: str = ""
    image_format: str = ""
    width: int = 0
    height: int = 0


def _reject(reason: str) -> ImageCheck:
    return ImageCheck(False, reason)


def _read_header(data: bytes) -> tuple[str, int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            return image.format or "", image.width, image.height


def check_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageCheck:
    """Returns whether `data` is an image the pipeline can use, and if not, why."""
    if not data:
        return _reject("empty file")
    Image.MAX_IMAGE_PIXELS = None  # our own limit below decides, with a clear reason
    try:
        image_format, width, height = _read_header(data)
    except Exception:
        return _reject("not an image (unrecognised content)")
    if width * height > max_pixels:
        return _reject(f"too large: {width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}")
    if image_format not in TF_DECODABLE_FORMATS:
        return _reject(f"unsupported format {image_format or 'unknown'} (use JPEG, PNG, GIF, BMP or WebP)")
    return _decode_with_tensorflow(data, image_format, width, height)


def _decode_with_tensorflow(data: bytes, image_format: str, width: int, height: int) -> ImageCheck:
    import tensorflow as tf

    try:
        decoded = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        detail = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        return _reject(f"corrupt or truncated {image_format}: {detail}")
    if tuple(decoded.shape[:2]) != (height, width):
        return _reject(
            f"corrupt {image_format}: header says {width}x{height}, decoded {decoded.shape[1]}x{decoded.shape[0]}"
        )
    return ImageCheck(True, "", image_format, width, height)
