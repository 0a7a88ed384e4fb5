"""`tastebud predict SOURCE... --out`: batch labelling with Beam's RunInference, on the real pushed model."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tastebud import batch_predict
from tastebud.cli import main as cli
from tastebud.inference import LocalModel
from tests.support.phone_photos import HEIC_HEAD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, sample_dir) -> Path:
    """Sample photos, some nested, plus the junk a real folder holds."""
    root = tmp_path_factory.mktemp("batch") / "new photos"
    for i, photo in enumerate(sorted(sample_dir.glob("*/*.jpg"))[::5]):
        target = root / ("2024 trip" if i % 3 == 0 else "") / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, target)
    (root / "notes.txt").write_text("not a photo\n")
    (root / "IMG_0001.HEIC").write_bytes(HEIC_HEAD)
    (root / "cut.jpg").write_bytes(next(root.glob("*.jpg")).read_bytes()[:3000])
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._x.jpg").write_bytes(b"\0\5\26\7")
    os.symlink(root / "gone.jpg", root / "dangling.jpg")
    return root


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_batch_labels_equal_in_process_predictions(flowers, photo_folder, tmp_path, capsys):
    out = tmp_path / "labels" / "predictions.csv"
    assert cli(["predict", str(photo_folder), "--model", str(flowers["serving"]), "--out", str(out)]) == 0
    rows = {row["key"]: row for row in _csv_rows(out)}
    photos = sorted(p for p in photo_folder.rglob("*.jpg") if p.name not in {"cut.jpg", "dangling.jpg"})
    photos = [p for p in photos if "__MACOSX" not in p.parts]
    assert set(rows) == {str(p) for p in photos}
    expected = LocalModel(flowers["serving"]).predict([p.read_bytes() for p in photos], [str(p) for p in photos])
    classes = list(expected[0].scores)
    assert (
        list(next(iter(rows.values())))[:3] == ["key", "label", "score"] and list(rows[str(photos[0])])[3:] == classes
    )
    for p in expected:
        row = rows[p.key]
        assert row["label"] == p.label
        np.testing.assert_allclose([float(row[c]) for c in classes], [p.scores[c] for c in classes], atol=1e-5)
        np.testing.assert_allclose(float(row["score"]), p.score, atol=1e-5)
    output = capsys.readouterr()
    assert f"input {len(photos) + 6} = predicted {len(photos)} + rejected 4 + skipped 2" in output.out
    assert "[predict] labelled" in output.err  # progress while it runs


def test_junk_is_accounted_for_with_prepares_reasons(flowers, photo_folder, tmp_path):
    out = tmp_path / "predictions.jsonl"
    missing = photo_folder.parent / "not_there.jpg"
    args = ["predict", str(photo_folder), str(missing), "--model", str(flowers["serving"]), "--out", str(out)]
    assert cli([*args, "--format", "jsonl"]) == 0
    with open(tmp_path / "predictions_rejected.csv", newline="", encoding="utf-8") as f:
        rejected = {Path(row["uri"]).name: row["reason"] for row in csv.DictReader(f)}
    assert rejected["notes.txt"].startswith("not an image")
    assert rejected["IMG_0001.HEIC"].startswith("HEIC photo (iPhone's default)")
    assert rejected["cut.jpg"].startswith("corrupt or truncated JPEG")
    assert rejected["dangling.jpg"].startswith("broken symbolic link")
    assert rejected["not_there.jpg"] == "file not found"
    with open(tmp_path / "predictions_skipped.csv", newline="", encoding="utf-8") as f:
        assert {Path(row["uri"]).name for row in csv.DictReader(f)} == {".DS_Store", "._x.jpg"}
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert {"key", "label", "score", "scores"} <= set(predictions[0])
    assert [p["key"] for p in predictions] == sorted(p["key"] for p in predictions)


def test_dataflow_flags_reach_the_pipeline_options(flowers, photo_folder, tmp_path, monkeypatch):
    """Offline: the Beam flags given to `predict --out` are the options its pipeline is built with."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

    from pipeline import configs

    seen = {}

    class Stop(Exception):
        pass

    def capture(options):
        seen["options"] = options
        raise Stop

    monkeypatch.setattr(batch_predict.beam, "Pipeline", capture)
    flags = configs.dataflow_beam_args("acme", "europe-west4", "gs://acme", "eu.gcr.io/acme/tastebud:1")
    with pytest.raises(Stop):
        batch_predict.run(
            batch_predict.BatchConfig([str(photo_folder)], str(flowers["serving"]), "gs://acme/p.csv", beam_args=flags)
        )
    options = seen["options"]
    gcp = options.view_as(GoogleCloudOptions)
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert (gcp.project, gcp.region, gcp.temp_location) == ("acme", "europe-west4", "gs://acme/tmp")
    assert options.get_all_options()["sdk_container_image"] == "eu.gcr.io/acme/tastebud:1"


def test_batch_mode_needs_a_local_model(photo_folder, tmp_path, capsys):
    args = ["predict", str(photo_folder), "--server", "localhost:8501", "--out", str(tmp_path / "p.csv")]
    assert cli(args) == 2
    assert "give --model" in capsys.readouterr().err


def test_dot_folder_and_a_decoder_warning_leave_no_stray_line(flowers, sample_dir, tmp_path, capfd):
    """`predict SOURCE --out` on a folder under ~/.cache/: the dot folder above SOURCE makes
    nothing a system file; a JPEG libjpeg warns about is labelled, its warning goes to
    notes.csv, and no line outside tastebud's own reaches fd 1 or 2 (where libjpeg writes)."""
    from tests.support.synthetic import with_extraneous_bytes

    source = tmp_path / "home" / ".cache" / "new photos"
    source.mkdir(parents=True)
    photos = sorted(sample_dir.glob("*/*.jpg"))[::6]
    for p in photos:
        shutil.copy(p, source / p.name)
    (source / "noisy.jpg").write_bytes(with_extraneous_bytes(photos[0].read_bytes()))
    out = tmp_path / "p.csv"
    _ = tf.constant(0)  # TensorFlow's one-off device start-up lines come before the window, not in it
    capfd.readouterr()
    assert cli(["predict", str(source), "--model", str(flowers["serving"]), "--out", str(out)]) == 0
    captured = capfd.readouterr()
    assert "Corrupt JPEG" not in captured.out + captured.err
    assert [line for line in captured.err.splitlines() if line.strip() and not line.startswith("[predict] ")] == []
    assert {Path(row["key"]).name for row in _csv_rows(out)} == {p.name for p in photos} | {"noisy.jpg"}
    notes = _csv_rows(tmp_path / "p_notes.csv")
    assert [Path(row["uri"]).name for row in notes] == ["noisy.jpg"] and "extraneous bytes" in notes[0]["note"]
    assert "note: 1 image(s) decoded with a warning" in captured.out


def test_a_mistyped_source_is_an_error_not_an_empty_success(flowers, tmp_path, capsys):
    """Nothing labelled (a wrong path) exits 1 and says so, instead of an empty table and exit 0."""
    out = tmp_path / "p.csv"
    assert (
        cli(["predict", str(tmp_path / "no_such_folder"), "--model", str(flowers["serving"]), "--out", str(out)]) == 1
    )
    captured = capsys.readouterr()
    assert "error: no image was labelled" in captured.err and "wrote" not in captured.out
