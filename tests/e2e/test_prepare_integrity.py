"""`tastebud prepare` loses no photo among 1,000 generated JPEGs of tens of KB: five reruns and
two multi_processing runs write byte-identical output. The data loss it guards against (Beam's
multi_threading DirectRunner losing elements at a GroupByKey) never showed on small corpora;
the other integrity tests are tests/unit/test_prepare_integrity.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from data import accounting
from tastebud.cli import main as cli
from tests.support.synthetic import distinct_jpeg

pytestmark = pytest.mark.slow

N_PHOTOS, N_CLASSES = 1000, 10


def _output_digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def thousand_photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("thousand") / "photos"
    for i in range(N_PHOTOS):
        folder = root / f"class {i % N_CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{i:05d}.jpg").write_bytes(distinct_jpeg(i, exif=i % 3 == 0))
    return root


def test_every_run_and_runner_setting_writes_every_photo_identically(thousand_photos, tmp_path):
    """5 runs with the default Beam settings, 2 with multi_processing at 2 workers: same files, same bytes."""
    settings = [[]] * 5 + [["--direct_running_mode=multi_processing", "--direct_num_workers=2"]] * 2
    digests, summaries = [], []
    for run, beam_args in enumerate(settings):
        out = tmp_path / f"run{run}"
        assert cli(["prepare", str(thousand_photos), "--out", str(out), *beam_args]) == 0
        summary = json.loads((out / "summary.json").read_text())
        written = accounting.read_written(str(out))
        assert summary["input"] == summary["written"] == len(written) == N_PHOTOS, (run, summary)
        assert {Path(w.key).name for w in written} == {f"IMG_{i:05d}.jpg" for i in range(N_PHOTOS)}
        digests.append(_output_digest(out))
        summaries.append(summary)
    assert all(s == summaries[0] for s in summaries)
    assert all(d == digests[0] for d in digests), "reruns and runner settings must give byte-identical output"
    assert summaries[0]["splits"] == {"train": 900, "eval": 100}
