"""Near-duplicate photos in `tastebud prepare` at scale: 1,000 generated photos and 12 resized,
re-saved copies; each copy stays in its original's split on both runner settings."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from data import accounting, near_duplicates
from tastebud.cli import main as cli
from tests.support import synthetic

pytestmark = pytest.mark.slow

N_CLASSES, PER_CLASS, N_COPIES = 10, 100, 12


def _resaved(path: Path, scale: float, quality: int) -> bytes:
    image = Image.open(path)
    buffer = io.BytesIO()
    image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS).save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos_with_copies(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """1,000 distinct generated photos in 10 classes, plus 12 resized + re-saved copies: copy -> original."""
    root = tmp_path_factory.mktemp("near") / "photos"
    labels = [f"class{i}" for i in range(N_CLASSES)]
    rows = synthetic.class_folders(root, labels, PER_CLASS, draw=synthetic.smooth_noise)
    copies = {}
    for n, (path, _) in enumerate(rows[:: len(rows) // N_COPIES][:N_COPIES]):
        copy = path.with_name(f"{path.stem} resized copy.jpg")
        copy.write_bytes(_resaved(path, (0.5, 0.75)[n % 2], (40, 60)[n // 2 % 2]))
        copies[str(copy)] = str(path)
    return root, copies


def _splits(out: Path) -> dict[str, str]:
    return {w.key: w.split for w in accounting.read_written(str(out))}


def test_copies_stay_with_their_original_on_both_runner_settings(photos_with_copies, tmp_path, capsys):
    root, copies = photos_with_copies
    settings = [[], ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]]
    results = []
    for run, beam_args in enumerate(settings):
        out = tmp_path / f"run{run}"
        assert cli(["prepare", str(root), "--out", str(out), *beam_args]) == 0
        summary = json.loads((out / "summary.json").read_text())
        splits = _splits(out)
        assert summary["input"] == summary["written"] == len(splits) == N_CLASSES * PER_CLASS + N_COPIES
        with open(out / "near_duplicates.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert {r["uri"]: r["kept_with"] for r in rows} == copies
        assert all(0 <= int(r["distance"]) <= near_duplicates.THRESHOLD for r in rows)
        assert all(splits[copy] == splits[original] for copy, original in copies.items())
        assert "eval" in {splits[copy] for copy in copies}  # some group sits in eval, whole
        assert summary["near_duplicates"] == summary["near_duplicate_groups"] == N_COPIES
        assert f"{N_COPIES} near-duplicate photos in {N_COPIES} groups" in capsys.readouterr().out
        results.append(((out / "near_duplicates.csv").read_bytes(), splits))
    assert results[0] == results[1]
