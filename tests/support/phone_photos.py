"""The tests' phone photos: bench/photos.py's helpers (bench/ may not import tests/)."""

from bench.photos import (  # noqa: F401
    HEIC_HEAD,
    JPEG_QUALITY,
    ORIENTATION_TAG,
    STORE,
    T,
    big_jpeg,
    block_aligned,
    jpeg,
    open_photo,
    orientation_exif,
    phone_48mp,
    stored_with_tag,
    tiff_block,
    with_app1,
)
