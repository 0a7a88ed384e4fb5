"""Checks that an image's bytes decode exactly as the Transform graph will decode them.

The checks, in order, each with one readable reason when it fails:

1. the signature: formats TensorFlow cannot decode (HEIC, AVIF, TIFF, RAW, PDF, SVG,
   PSD) are named, with what to do (`data.formats`);
2. the header, read by Pillow without decoding pixels: a decompression bomb is refused
   from its claimed size alone (a side past 65,535 pixels, or more pixels than the limit);
3. TensorFlow's own decoder, the one the pipeline and the serving graph use, must decode
   the bytes fully to the size the header promised. Big JPEGs are decoded at 1/8 scale
   in the DCT, which still reads every coded block, so truncation is still caught.

Thread-safe: nothing here changes process-wide state per call (no `warnings` filters,
no toggling of Pillow's pixel limit), so Beam may run it from many threads at once.
The one exception is opt-in: `capture_warnings=True` (the batch jobs and the CLI) takes
what TensorFlow's JPEG decoder prints to fd 2 ("Corrupt JPEG data: 195 extraneous bytes
before marker 0xd9") into the check's `warning`, through a process-wide, locked redirect.
"""

from __future__ import annotations

import dataclasses
import io
import re
import sys
from dataclasses import dataclass

from PIL import Image

from data.formats import decodable_signature, identify_unsupported
from preprocessing.formats import DECODABLE_LIST, DECODABLE_NAMES

# Formats tf.io.decode_image reads (GIF: its first frame), as Pillow names them. Anything
# else is rejected: the pipeline and the serving graph could not read it either.
TF_DECODABLE_FORMATS = DECODABLE_NAMES
DEFAULT_MAX_PIXELS = 16384 * 12288  # 201,326,592: a 200-MP phone photo passes
MAX_DIMENSION = 65_535  # the largest side JPEG and WebP can encode; anything past it is forged
_TF_LOG_LINE = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl)")
_SCALED_CHECK_PIXELS = 16_000_000  # JPEGs above this are checked at 1/8 scale (same data read)

# Our own limits above decide, with clear reasons. Set once at import, never per call:
# changing it per call from Beam's threads was not thread-safe.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class ImageCheck:
    ok: bool
    reason: str = ""
    image_format: str = ""
    width: int = 0
    height: int = 0
    warning: str = ""  # what the decoder printed for an image it still decoded (capture_warnings=True)


def _reject(reason: str) -> ImageCheck:
    return ImageCheck(False, reason)


def _read_header(data: bytes) -> tuple[str, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format or "", image.width, image.height


def size_problem(width: int, height: int, max_pixels: int) -> str | None:
    """Why a header's claimed size is refused (a decompression bomb), or None."""
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        return f"too large: {width}x{height} has a side past {MAX_DIMENSION} pixels"
    if width * height > max_pixels:
        return f"too large: {width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}"
    return None


def check_image(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "", capture_warnings: bool = False
) -> ImageCheck:
    """Returns whether `data` is an image the pipeline can use, and if not, why.

    Args:
      data: the encoded file.
      max_pixels: refuse images whose header claims more pixels (width x height).
      name: file name or URI, only to name TIFF-based camera RAW files by extension.
      capture_warnings: take what the C decoder prints into the result's `warning`
        (single-threaded callers only: see tastebud.quiet.native_stderr_to_text).
    """
    header = check_header(data, max_pixels, name)
    if not header.ok:
        return header
    if not capture_warnings:
        return _decode_with_tensorflow(data, header.image_format, header.width, header.height)
    import tensorflow  # noqa: F401  (imported outside the capture: its start-up lines are not the image's)

    from tastebud.quiet import native_stderr_to_text

    with native_stderr_to_text() as printed:
        check = _decode_with_tensorflow(data, header.image_format, header.width, header.height)
    lines = printed.text.splitlines()
    tf_log = [line for line in lines if _TF_LOG_LINE.match(line)]  # TensorFlow's own log: not the image's
    if tf_log:
        print("\n".join(tf_log), file=sys.stderr)
    warning = "; ".join(line.strip() for line in lines if line.strip() and line not in tf_log)
    return dataclasses.replace(check, warning=warning) if check.ok and warning else check


def check_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "") -> ImageCheck:
    """Checks 1 and 2 of the module doc (signature, header, pixel limit); decodes no pixels.

    Cheap (about a millisecond): for a caller whose own decode (e.g. the serving graph's)
    is the decodability check, turning its error into `decode_failure(...)`'s reason.
    Args as for check_image; an ok result carries the format and the header's size.
    """
    if not data:
        return _reject("empty file")
    unsupported = identify_unsupported(data, name)
    if unsupported:
        return _reject(unsupported)
    try:
        image_format, width, height = _read_header(data)
    except Exception:
        claimed = decodable_signature(data)
        if claimed:  # starts like a JPEG/PNG/... but its header cannot be read: cut short or damaged
            return _reject(f"corrupt or truncated {claimed}: its header cannot be read")
        return _reject("not an image (unrecognised content)")
    problem = size_problem(width, height, max_pixels)
    if problem:
        return _reject(problem)
    if image_format not in TF_DECODABLE_FORMATS:
        return _reject(f"unsupported format {image_format or 'unknown'} (use {DECODABLE_LIST})")
    return ImageCheck(True, "", image_format, width, height)


def readable_tf_error(error: Exception) -> str:
    """TensorFlow's message without function names, device strings or op names: one line.

    From a graph (a SavedModel's signature) the op's own message is the last line of
    "Graph execution error: Detected at node ... <stack> message [[node]]": that one is kept.
    """
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{[^}]*\}\}", "", text)  # {{function_node __wrapped__..._device_/job:localhost/...}}
    text = re.sub(r"\[Op:[^\]]*\]", "", text)
    text = re.sub(r"\bname:\s*\S*", "", text)
    text = re.sub(r"\[\[\s*\]\]", "", text)  # what is left of [[{{node ...}}]]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("Graph execution error"):
        lines = lines[-1:]
    return (lines[0] if lines else type(error).__name__).rstrip(" .;:")[:160]


def decode_failure(image_format: str, error: Exception) -> str:
    """The reason for an image TensorFlow's decoder refused, e.g. "corrupt or truncated JPEG: ..."."""
    return f"corrupt or truncated {image_format}: {readable_tf_error(error)}"


def _decode_with_tensorflow(data: bytes, image_format: str, width: int, height: int) -> ImageCheck:
    import tensorflow as tf

    ratio = 8 if image_format == "JPEG" and width * height > _SCALED_CHECK_PIXELS else 1
    try:
        if ratio > 1:
            decoded = tf.io.decode_jpeg(data, channels=3, ratio=ratio)
        else:
            decoded = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        return _reject(decode_failure(image_format, e))
    expected = (-(-height // ratio), -(-width // ratio))
    if tuple(decoded.shape[:2]) != expected:
        return _reject(
            f"corrupt {image_format}: header says {width}x{height}, decoded "
            f"{decoded.shape[1] * ratio}x{decoded.shape[0] * ratio}"
        )
    return ImageCheck(True, "", image_format, width, height)
