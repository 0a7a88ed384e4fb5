"""Photos like users' photos for the time-to-model rows: the bundled sample at the size and
detail of real photos, in 10 classes (each flower in colour and in grey).

Each photo is a sample photo randomly cropped (75-100% of each side) and mirrored (half of
them), as `bench.common.variants` does (`crop_and_flip`), then scaled with Pillow's LANCZOS so that its long
side is 512-1024 px, and saved at JPEG quality 90 (the grey classes through Pillow's "L").
The sample's photos are 240-500 px (38 KB median); these come out at about 30-180 KB,
like the 30-100 KB JPEGs of the users' photos in issue 27. No two files are the same.
"""

from __future__ import annotations

import hashlib
import io
import random
import statistics
from pathlib import Path

from bench.common import crop_and_flip, sample_images

LONG_SIDE = (512, 1024)
QUALITY = 90


def _photo(data: bytes, grey: bool, rng: random.Random) -> bytes:
    from PIL import Image

    im = crop_and_flip(data, rng)
    factor = rng.randint(*LONG_SIDE) / max(im.size)
    im = im.resize((round(im.width * factor), round(im.height * factor)), Image.Resampling.LANCZOS)
    if grey:
        im = im.convert("L").convert("RGB")
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=QUALITY)
    return buffer.getvalue()


def write_photos(folder: Path, count: int, seed: int = 7) -> dict:
    """`count` JPEGs under folder/<class>/NNNNN.jpg, the 10 classes in turn (as equal as
    `count` allows), each class's photos cycling through its flower's sample photos.
    Returns photo_stats(folder)."""
    by_flower: dict[str, list[bytes]] = {}
    for _, label, data in sample_images():
        by_flower.setdefault(label, []).append(data)
    flowers = sorted(by_flower)
    classes = [(f, False) for f in flowers] + [(f, True) for f in flowers]
    rng = random.Random(seed)
    seen: set[bytes] = set()
    for index in range(count):
        flower, grey = classes[index % len(classes)]
        sources = by_flower[flower]
        data = _photo(sources[(index // len(classes)) % len(sources)], grey, rng)
        while hashlib.sha256(data).digest() in seen:  # another crop: no two files the same
            data = _photo(sources[(index // len(classes)) % len(sources)], grey, rng)
        seen.add(hashlib.sha256(data).digest())
        target = folder / (f"{flower}_grey" if grey else flower) / f"{index:05d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return photo_stats(folder)


def _spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def photo_stats(folder: Path) -> dict:
    """count, classes, long_side_px and short_side_px {min, median, max}, megapixels_median and
    file_kb {min, median, max} of folder/<class>/*.jpg."""
    from PIL import Image

    paths = sorted(folder.glob("*/*.jpg"))
    sizes = []
    for path in paths:
        with Image.open(path) as im:
            sizes.append(im.size)
    return {
        "count": len(paths),
        "classes": len({p.parent.name for p in paths}),
        "long_side_px": _spread([max(s) for s in sizes]),
        "short_side_px": _spread([min(s) for s in sizes]),
        "megapixels_median": statistics.median(w * h / 1e6 for w, h in sizes),
        "file_kb": _spread([p.stat().st_size / 1024 for p in paths]),
        "jpeg_quality": QUALITY,
    }


def describe(stats: dict) -> str:
    """'550 photos, 10 classes, 512-1024 px long side (median 760), 30-178 KB (median 77), JPEG q90'."""
    px, kb = stats["long_side_px"], stats["file_kb"]
    return (
        f"{stats['count']} photos, {stats['classes']} classes, {px['min']}-{px['max']} px long side "
        f"(median {px['median']:.0f}), {kb['min']:.0f}-{kb['max']:.0f} KB (median {kb['median']:.0f}), "
        f"JPEG q{stats['jpeg_quality']}"
    )
