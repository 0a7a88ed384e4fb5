"""`tastebud prepare` loses no photo: real-folder mess, CSV rows, readable reasons, a lost example
or an unlistable folder failing the run, multi_threading refused.

Real Beam (DirectRunner) on generated JPEGs. Many files, reruns and other runner settings
(1,000 photos, seven runs) are tests/e2e/test_prepare_integrity.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data import accounting, prepare
from tastebud.cli import main as cli
from tests.support.phone_photos import HEIC_HEAD
from tests.support.synthetic import distinct_jpeg


def _encode(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def _rows(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["uri"]: row["reason"] for row in csv.DictReader(f)}


def test_multi_threading_is_refused_before_any_work(tmp_path, capsys):
    for i, label in enumerate(("a", "b")):
        (tmp_path / "src" / label).mkdir(parents=True)
        (tmp_path / "src" / label / "x.jpg").write_bytes(distinct_jpeg(1 + i))
    out = tmp_path / "out"
    assert cli(["prepare", str(tmp_path / "src"), "--out", str(out), "--direct_running_mode=multi_threading"]) == 2
    assert "multi_threading is refused" in capsys.readouterr().err
    assert not (out / "train").exists()


@pytest.fixture()
def messy_phone_folder(tmp_path) -> Path:
    """What real folders hold: nesting, hidden and macOS/Windows leftovers, links, formats TF can't read."""
    root = tmp_path / "photos"
    files = {
        "crème brûlée/IMG_0001.jpg": distinct_jpeg(1),
        "crème brûlée/2024 trip/IMG_0002.jpg": distinct_jpeg(2),
        "crème brûlée/2024 trip/day 2/IMG_0003.jpg": distinct_jpeg(3),
        "crème brûlée/IMG_0004.HEIC": HEIC_HEAD,
        "crème brûlée/export.avif": _encode("AVIF"),
        "crème brûlée/scan.tiff": _encode("TIFF"),
        "crème brûlée/._IMG_0001.jpg": b"\x00\x05\x16\x07AppleDouble",
        "crème brûlée/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "crème brûlée/Thumbs.db": b"\xd0\xcf\x11\xe0",
        "pizza/IMG_1001.jpg": distinct_jpeg(11),
        "pizza/IMG_1002.jpg": distinct_jpeg(12),
        "pizza/IMG_1003.jpg": distinct_jpeg(13),
        "pizza/desktop.ini": b"[.ShellClassInfo]\r\n",
        "pizza/.hidden_edit.jpg": distinct_jpeg(14),
        ".hidden/IMG_9000.jpg": distinct_jpeg(90),
        "__MACOSX/pizza/._IMG_1001.jpg": b"\x00\x05\x16\x07",
        "README.txt": b"my photos\n",
    }
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    os.symlink(root / "pizza" / "gone.jpg", root / "pizza" / "dangling.jpg")
    os.symlink(root / "crème brûlée" / "IMG_0001.jpg", root / "crème brûlée" / "link_to_first.jpg")
    os.symlink(root / "crème brûlée", root / "crème brûlée" / "2024 trip" / "loop")
    return root


def test_every_file_in_a_messy_folder_is_written_rejected_or_skipped(messy_phone_folder, tmp_path, capsys):
    out = tmp_path / "data"
    assert cli(["prepare", str(messy_phone_folder), "--out", str(out), "--eval-fraction", "0.5"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rejected = {Path(uri).name: reason for uri, reason in _rows(out / "rejected.csv").items()}
    skipped = {str(Path(uri).relative_to(messy_phone_folder)): r for uri, r in _rows(out / "skipped.csv").items()}
    written = {Path(w.key).name: w.label for w in accounting.read_written(str(out))}

    assert (out / "dict.txt").read_text(encoding="utf-8") == "crème brûlée\npizza\n"  # no junk class
    assert written == {
        "IMG_0001.jpg": "crème brûlée",
        "IMG_0002.jpg": "crème brûlée",  # nested folders belong to the top-level class
        "IMG_0003.jpg": "crème brûlée",
        "IMG_1001.jpg": "pizza",
        "IMG_1002.jpg": "pizza",
        "IMG_1003.jpg": "pizza",
    }
    assert rejected["IMG_0004.HEIC"].startswith("HEIC photo (iPhone's default)")
    assert "export as JPEG" in rejected["IMG_0004.HEIC"]
    assert rejected["export.avif"].startswith("AVIF image")
    assert rejected["scan.tiff"].startswith("TIFF image")
    assert rejected["dangling.jpg"].startswith("broken symbolic link")
    assert rejected["link_to_first.jpg"] == f"duplicate of {messy_phone_folder / 'crème brûlée' / 'IMG_0001.jpg'}"
    assert set(skipped) == {
        "crème brûlée/._IMG_0001.jpg",
        "crème brûlée/.DS_Store",
        "crème brûlée/Thumbs.db",
        "pizza/desktop.ini",
        "pizza/.hidden_edit.jpg",
        ".hidden/IMG_9000.jpg",
        "__MACOSX/pizza/._IMG_1001.jpg",
        "README.txt",
    }
    assert all(reason.startswith("skipped: ") for reason in skipped.values())
    assert skipped["README.txt"].startswith("skipped: not inside a class folder")
    assert summary["input"] == summary["written"] + summary["rejected"] + summary["skipped"]
    assert (summary["written"], summary["rejected"], summary["skipped"]) == (6, 5, 8)
    output = capsys.readouterr().out
    assert "input 19 = written 6 + rejected 5 + skipped 8" in output


def test_csv_rows_follow_the_same_rules(messy_phone_folder, tmp_path):
    rows = [
        "crème brûlée/IMG_0001.jpg,crème brûlée",
        "pizza/IMG_1001.jpg,pizza",
        "pizza/IMG_1002.jpg,pizza",
        "pizza/IMG_1003.jpg,pizza",
        "pizza/dangling.jpg,pizza",
        "crème brûlée/._IMG_0001.jpg,crème brûlée",
        "__MACOSX/pizza/._IMG_1001.jpg,pizza",
        "crème brûlée/IMG_0004.HEIC,crème brûlée",
    ]
    listing = messy_phone_folder / "labels.csv"
    listing.write_text("path,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "data"
    assert cli(["prepare", str(listing), "--out", str(out), "--eval-fraction", "0.5"]) == 0
    rejected = {Path(uri).name: reason for uri, reason in _rows(out / "rejected.csv").items()}
    skipped = {Path(uri).name: reason for uri, reason in _rows(out / "skipped.csv").items()}
    assert rejected["dangling.jpg"].startswith("broken symbolic link")
    assert rejected["IMG_0004.HEIC"].startswith("HEIC photo")
    assert set(skipped) == {"._IMG_0001.jpg", "._IMG_1001.jpg"}
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["input"], summary["written"], summary["rejected"], summary["skipped"]) == (8, 4, 2, 2)


def test_reasons_are_one_readable_line(tmp_path):
    good = distinct_jpeg(5, size=(320, 240))
    for label in ("a", "b"):
        (tmp_path / "src" / label).mkdir(parents=True)
    (tmp_path / "src" / "a" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "src" / "a" / "ok.jpg").write_bytes(good)
    (tmp_path / "src" / "b" / "other.jpg").write_bytes(distinct_jpeg(6, size=(320, 240)))
    out = tmp_path / "out"
    cli(["prepare", str(tmp_path / "src"), "--out", str(out)])
    reason = next(iter(_rows(out / "rejected.csv").values()))
    assert reason.startswith("corrupt or truncated JPEG: ")
    for leak in ("{{", "function_node", "device", "job:localhost", "[Op:", "Traceback", "\n"):
        assert leak not in reason, reason


def test_a_lost_example_fails_the_run_and_names_the_input(tmp_path, monkeypatch, capsys):
    """The run-time check: make the writer drop one example on purpose; prepare must exit 1 naming it."""
    src = tmp_path / "src"
    for i in range(12):
        (src / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        (src / f"c{i % 2}" / f"p{i:02d}.jpg").write_bytes(distinct_jpeg(100 + i))
    real_process = prepare.WriteShard.process
    dropped: list[str] = []

    def lossy_process(self, element):
        (split, shard), records = element
        records = sorted(records)
        if split == "train" and not dropped:
            sha, serialized = records.pop(0)
            dropped.append(_key_of(serialized))
        yield from real_process(self, ((split, shard), records))

    monkeypatch.setattr(prepare.WriteShard, "process", lossy_process)
    out = tmp_path / "out"
    assert cli(["prepare", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert dropped and f"missing: {dropped[0]}" in err
    assert "1 input(s) are neither written nor rejected" in err
    assert not (out / "dict.txt").exists() and not (out / "summary.json").exists()


def _key_of(serialized: bytes) -> str:
    import tensorflow as tf

    return tf.train.Example.FromString(serialized).features.feature["key"].bytes_list.value[0].decode()


def test_a_folder_that_cannot_be_listed_is_reported_not_ignored(tmp_path, monkeypatch):
    """os.walk skips unreadable folders silently by default; the listing must report them."""
    from data import sources

    (tmp_path / "src" / "a").mkdir(parents=True)
    (tmp_path / "src" / "a" / "x.jpg").write_bytes(distinct_jpeg(7))
    locked = tmp_path / "src" / "a" / "locked"
    real_walk = os.walk

    def walk_with_a_locked_folder(top, onerror=None, followlinks=False):
        onerror(PermissionError(13, "Permission denied", str(locked)))
        yield from real_walk(top, onerror=onerror, followlinks=followlinks)

    monkeypatch.setattr(sources.os, "walk", walk_with_a_locked_folder)
    listing = sources.list_folder(str(tmp_path / "src"))
    assert [i.uri for i in listing.items] == [str(tmp_path / "src" / "a" / "x.jpg")]
    assert listing.bad_rows == [sources.BadRow(f"folder {locked}", "unreadable folder: Permission denied")]
    assert listing.total == 2
