"""What `tastebud prepare` does with a messy folder: every format and fault, each accounted for."""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from preprocessing.images import decode_and_resize
from tastebud.cli import main as cli

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 255, (48, 64, 3), dtype=np.uint8)


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels; its data is tiny (never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _truncated(data: bytes) -> bytes:
    return data[: len(data) * 3 // 5]


def _animated_gif() -> bytes:
    frames = [Image.fromarray(PIXELS), Image.fromarray(255 - PIXELS)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


GOOD = {
    "rgb.jpg": lambda: _encode(Image.fromarray(PIXELS), "JPEG"),
    "alpha.png": lambda: _encode(Image.fromarray(np.dstack([PIXELS, PIXELS[..., :1]]), "RGBA"), "PNG"),
    "sixteen_bit.png": lambda: _encode(Image.fromarray(RNG.integers(0, 65535, (48, 64)).astype(np.uint16)), "PNG"),
    "gray.jpg": lambda: _encode(Image.fromarray(PIXELS[..., 0]), "JPEG"),
    "cmyk.jpg": lambda: _encode(Image.fromarray(PIXELS).convert("CMYK"), "JPEG"),
    "animated.gif": _animated_gif,
    "bitmap.bmp": lambda: _encode(Image.fromarray(PIXELS), "BMP"),
    "modern.webp": lambda: _encode(Image.fromarray(PIXELS), "WEBP"),
}
BAD = {
    "scan.tiff": (lambda: _encode(Image.fromarray(PIXELS), "TIFF"), "TIFF image: TensorFlow cannot decode it"),
    "zero.jpg": (lambda: b"", "empty file"),
    "truncated.jpg": (lambda: _truncated(_encode(Image.fromarray(PIXELS), "JPEG")), "corrupt or truncated JPEG"),
    "notes.jpg": (lambda: b"just some text saved as .jpg\n", "not an image"),
    "page.jpg": (lambda: b"<!doctype html><html><body>Not Found</body></html>", "not an image"),
    "bomb.png": (lambda: _png_bomb(30000, 30000), "too large: 30000x30000"),
}


@pytest.fixture()
def corpus(tmp_path) -> Path:
    root = tmp_path / "photos" / "things"
    root.mkdir(parents=True)
    for name, make in GOOD.items():
        (root / name).write_bytes(make())
    for name, (make, _) in BAD.items():
        (root / name).write_bytes(make())
    others = root.parent / "others"  # a few more ordinary photos, in a second class (one class is refused)
    others.mkdir()
    for i in range(4):
        (others / f"extra{i}.jpg").write_bytes(_encode(Image.fromarray(np.roll(PIXELS, i + 1, axis=1)), "JPEG"))
    return root.parent


def _rejected(out: Path) -> dict[str, str]:
    with open(out / "rejected.csv", newline="") as f:
        return {Path(row["uri"]).name: row["reason"] for row in csv.DictReader(f)}


def _written(out: Path) -> dict[str, bytes]:
    files = [str(p) for p in sorted(out.glob("*/*.tfrecord.gz"))]
    written = {}
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        f = tf.train.Example.FromString(record.numpy()).features.feature
        written[Path(f["key"].bytes_list.value[0].decode()).name] = f["image"].bytes_list.value[0]
    return written


def test_every_format_and_fault_is_accounted_for(corpus, tmp_path, capsys):
    out = tmp_path / "data"
    assert cli(["prepare", str(corpus), "--out", str(out)]) == 0
    rejected, written = _rejected(out), _written(out)
    assert set(written) == set(GOOD) | {f"extra{i}.jpg" for i in range(4)}
    for name, (_, reason) in BAD.items():
        assert reason in rejected[name], (name, rejected[name])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"] == len(GOOD) + len(BAD) + 4 == summary["written"] + summary["rejected"]
    assert summary["skipped"] == 0
    # Every accepted format decodes in the Transform/serving graph to RGB of the right size.
    pixels = decode_and_resize(tf.constant(list(written.values())), 32)
    assert pixels.shape == (len(written), 32, 32, 3)
    print(capsys.readouterr().out)


def test_pixel_limit_is_configurable(corpus, tmp_path):
    out = tmp_path / "data"
    assert cli(["prepare", str(corpus), "--out", str(out), "--max-pixels", "1000"]) == 1  # everything too large
    assert all(
        "too large" in reason
        or reason in {"empty file"}
        or "not an image" in reason
        or "TIFF" in reason
        or "truncated" in reason
        for reason in _rejected(out).values()
    )


def test_missing_and_unreadable_paths_in_a_csv(tmp_path):
    folder = tmp_path / "a_folder.jpg"
    folder.mkdir()
    (tmp_path / "ok.jpg").write_bytes(_encode(Image.fromarray(PIXELS), "JPEG"))
    (tmp_path / "dog.jpg").write_bytes(_encode(Image.fromarray(255 - PIXELS), "JPEG"))
    (tmp_path / "list.csv").write_text("ok.jpg,cat\nmissing.jpg,cat\na_folder.jpg,cat\ndog.jpg,dog\n")
    out = tmp_path / "data"
    cli(["prepare", str(tmp_path / "list.csv"), "--out", str(out)])
    rejected = _rejected(out)
    assert rejected["missing.jpg"] == "file not found"
    assert rejected["a_folder.jpg"].startswith("unreadable") or rejected["a_folder.jpg"] == "file not found"


def test_label_variants_empty_labels_unknown_labels_and_small_classes(tmp_path, capsys):
    for i in range(14):
        (tmp_path / f"{i}.jpg").write_bytes(_encode(Image.fromarray(np.roll(PIXELS, i, axis=0)), "JPEG"))
    rows = [
        f"{i}.jpg,{label}"
        for i, label in enumerate(
            [
                " Daisy",
                "DAISY ",
                "daisy",
                "dai  sy",
                "",
                "  ",
                "rose",
                "daisy",
                "daisy",
                "daisy",
                "daisy",
                "daisy",
                "daisy",
                "tulip",
            ]
        )
    ]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "dict.txt").write_text("daisy\ntulip\ndai sy\n")
    out = tmp_path / "data"
    assert (
        cli(["prepare", str(tmp_path / "labels.csv"), "--out", str(out), "--labels", str(tmp_path / "dict.txt")]) == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["classes"]["daisy"]["train"] + summary["classes"]["daisy"]["eval"] == 9  # case/space variants merged
    assert (out / "dict.txt").read_text() == "daisy\ntulip\ndai sy\n"  # the given order is kept
    reasons = _rejected(out)
    assert reasons["4.jpg"].startswith("empty label") and reasons["5.jpg"].startswith("empty label")
    assert "not in the given dict.txt" in reasons["6.jpg"]
    output = capsys.readouterr().out
    assert "warning: class 'tulip' has only 1 images" in output


def test_duplicate_csv_rows_give_one_example(tmp_path):
    (tmp_path / "a.jpg").write_bytes(_encode(Image.fromarray(PIXELS), "JPEG"))
    (tmp_path / "b.jpg").write_bytes(_encode(Image.fromarray(255 - PIXELS), "JPEG"))
    (tmp_path / "c.jpg").write_bytes(_encode(Image.fromarray(np.roll(PIXELS, 7, axis=1)), "JPEG"))
    (tmp_path / "l.csv").write_text("a.jpg,x\na.jpg,x\nb.jpg,x\nc.jpg,y\n")
    out = tmp_path / "data"
    cli(["prepare", str(tmp_path / "l.csv"), "--out", str(out), "--eval-fraction", "0.5"])
    assert len(_written(out)) == 3
    assert list(_rejected(out).values()) == ["duplicate row"]
