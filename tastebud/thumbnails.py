"""Small JPEG thumbnails as data URIs, turned upright by the photo's EXIF orientation (as the
model sees it): the review's mistakes and its data-health photos."""

from __future__ import annotations

import base64
import io


def thumbnail(image: bytes, size: int = 160) -> str:
    """Encoded image -> a data:image/jpeg URI at most size x size, EXIF-upright."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(image)) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((size, size))
        buffer = io.BytesIO()
        im.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def photo_thumbnail(uri: str, size: int) -> str | None:
    """The photo at uri (local or gs://, through Beam's FileSystems) as a thumbnail; None when it
    cannot be read or decoded (moved, deleted, not an image)."""
    from apache_beam.io.filesystems import FileSystems
    from PIL import Image

    try:
        with FileSystems.open(uri, compression_type="uncompressed") as f:
            return thumbnail(f.read(), size)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
