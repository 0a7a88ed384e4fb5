"""Frames for the data-health tests (data/health.py): JPEG bytes from Pillow images, crops,
resized copies, noise and a drawing, made from the bundled sample or from nothing."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def open_rgb(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def crop(data: bytes, corner: int, turn: bool) -> bytes:
    """A 60%-side crop from the top-left (corner 0) or bottom-right (corner 1), optionally turned."""
    im = open_rgb(data)
    w, h = im.size
    cw, ch = int(w * 0.6), int(h * 0.6)
    x, y = (0, 0) if corner == 0 else (w - cw, h - ch)
    im = im.crop((x, y, x + cw, y + ch))
    return jpeg(im.transpose(Image.Transpose.ROTATE_90) if turn else im)


def resized_copy(data: bytes) -> bytes:
    """Resized to 90% and recompressed at quality 85 (the sample's photos are ~320 px: smaller
    copies fall below the backbone's 224 px and are different pictures to it)."""
    im = open_rgb(data)
    return jpeg(im.resize((round(im.width * 0.9), round(im.height * 0.9)), Image.Resampling.LANCZOS), 85)


def noise(rng: np.random.Generator) -> bytes:
    return jpeg(Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)))


def drawing() -> bytes:
    im = Image.new("RGB", (320, 240), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    draw.rectangle((40, 40, 150, 200), outline=(0, 0, 0), width=6)
    draw.ellipse((170, 60, 290, 180), fill=(220, 30, 30))
    return jpeg(im)
