"""Generated photo sets for the blessing tests: written as JPEGs plus a prepare-ready CSV.

* `separable_classes`: 10 classes = 5 hues x 2 patterns (stripes, dots), jittered in
  hue, angle, frequency, position and noise; an ImageNet backbone separates them.
* `indistinct_classes`: every image drawn from one distribution (random blobs), so no
  model can tell the labels apart; the labels only set the class sizes.
* `class_folders`: a folder per label of generated photos; `distinct_jpeg`: one photo-like
  JPEG per seed, no two near duplicates (the prepare-integrity tests).
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 96  # pixels; the backbone resizes anyway
HUES = {
    "red": (200, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 70, 200),
    "yellow": (220, 200, 40),
    "purple": (140, 50, 170),
}


def _pattern(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A [SIZE, SIZE] mask in [0, 1]: stripes at a random angle, or a grid of dots."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    frequency = rng.uniform(0.15, 0.3)
    if kind == "stripes":
        angle = rng.uniform(0, np.pi)
        return (np.sin(frequency * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 6)) > 0).astype(
            np.float32
        )
    phase = rng.uniform(0, 6, size=2)
    return ((np.sin(frequency * xx + phase[0]) * np.sin(frequency * yy + phase[1])) > 0.5).astype(np.float32)


def _jpeg(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, format="JPEG", quality=90)


def _write_csv(rows: list[tuple[Path, str]], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows((str(p), label) for p, label in rows)
    return path


def separable_classes(root: Path, per_class: int = 55, seed: int = 0) -> list[tuple[Path, str]]:
    """(image path, label) for 10 classes of `per_class` generated photos each."""
    rng = np.random.default_rng(seed)
    rows = []
    for hue, rgb in HUES.items():
        for kind in ("stripes", "dots"):
            label = f"{hue} {kind}"
            for i in range(per_class):
                mask = _pattern(kind, rng)[..., None]
                color = np.array(rgb) + rng.normal(0, 15, 3)
                background = rng.uniform(200, 255, 3)
                pixels = mask * color + (1 - mask) * background + rng.normal(0, 8, (SIZE, SIZE, 3))
                path = root / label.replace(" ", "_") / f"{i:03d}.jpg"
                _jpeg(pixels, path)
                rows.append((path, label))
    return rows


def indistinct_classes(root: Path, sizes: dict[str, int], seed: int = 0) -> list[tuple[Path, str]]:
    """(image path, label) with `sizes[label]` photos per label, all from one distribution."""
    rng = np.random.default_rng(seed)
    labels = [label for label, n in sizes.items() for _ in range(n)]
    random.Random(seed).shuffle(labels)
    rows = []
    for i, label in enumerate(labels):
        path = root / f"{i:04d}.jpg"
        _jpeg(_blobs(rng), path)
        rows.append((path, label))
    return rows


def _blobs(rng: np.random.Generator) -> np.ndarray:
    """A [SIZE, SIZE, 3] picture of three random discs on a plain background, with noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    pixels = np.full((SIZE, SIZE, 3), rng.uniform(60, 200, 3))
    for _ in range(3):
        cy, cx, r = rng.uniform(0, SIZE, 2).tolist() + [rng.uniform(8, 30)]
        pixels[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    return pixels + rng.normal(0, 10, pixels.shape)


def smooth_noise(rng: np.random.Generator) -> np.ndarray:
    """A [SIZE, SIZE, 3] picture of random colours on a 6 x 6 grid, smoothly interpolated, with
    grain: low-frequency content that differs per draw, so perceptual hashes are ~32 bits apart."""
    grid = Image.fromarray(rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8))
    pixels = np.asarray(grid.resize((SIZE, SIZE), Image.Resampling.BICUBIC), np.float32)
    return pixels + rng.normal(0, 6, pixels.shape)


def class_folders(root: Path, labels: list[str], per_class: int, seed: int = 0, draw=_blobs) -> list[tuple[Path, str]]:
    """(path, label) of `per_class` distinct small photos in root/<label>/NN.jpg for each label,
    each drawn by `draw` (rng -> pixels: _blobs, or smooth_noise for photos no pHash confuses)."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in labels:
        for i in range(per_class):
            path = root / label / f"{i:02d}.jpg"
            _jpeg(draw(rng), path)
            rows.append((path, label))
    return rows


def with_extraneous_bytes(jpeg: bytes, count: int = 195) -> bytes:
    """The JPEG with `count` stray bytes before its end marker: it decodes, and libjpeg
    prints "Corrupt JPEG data: N extraneous bytes before marker 0xd9" to fd 2."""
    assert jpeg.endswith(b"\xff\xd9")
    return jpeg[:-2] + b"\x00" * count + jpeg[-2:]


def write_csv(rows: list[tuple[Path, str]], path: Path, shuffle_seed: int | None = None) -> Path:
    """A `tastebud prepare` CSV; with shuffle_seed, the labels are permuted among the photos."""
    labels = [label for _, label in rows]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(labels)
    return _write_csv([(p, label) for (p, _), label in zip(rows, labels, strict=True)], path)


def distinct_jpeg(seed: int, size: tuple[int, int] = (160, 120), exif: bool = False) -> bytes:
    """A distinct photo-like JPEG (smooth gradients, random low-frequency colour, noise), tens of KB.
    The random colour field keeps photos perceptually apart: no two are near duplicates."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * (seed % 7 + 1)) % 256, (y * 2 + seed) % 256, (x + y + seed * 3) % 256], -1)
    field = Image.fromarray(rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    base = (base + np.asarray(field, np.float64)) / 2
    pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    kwargs = {}
    if exif:
        tags = Image.Exif()
        tags[0x010F], tags[0x0110] = "Phone", "Model X"
        kwargs["exif"] = tags.tobytes()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85, **kwargs)
    return buffer.getvalue()
