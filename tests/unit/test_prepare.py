"""`tastebud prepare`: real Beam (DirectRunner) over small folders and CSVs built from the sample."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from data import csv_source, prepare
from tastebud.cli import main as cli


def _photos(sample_dir: Path, label: str, n: int) -> list[Path]:
    return sorted((sample_dir / label).glob("*.jpg"))[:n]


@pytest.fixture()
def messy_folder(tmp_path, sample_dir) -> Path:
    """Two classes of real photos plus the usual junk: corrupt, empty, text, HTML, duplicate."""
    root = tmp_path / "photos"
    for label in ("daisy", "roses"):
        (root / label).mkdir(parents=True)
        for photo in _photos(sample_dir, label, 10):
            shutil.copy(photo, root / label / photo.name)
    good = _photos(sample_dir, "daisy", 1)[0].read_bytes()
    (root / "daisy" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "daisy" / "empty.jpg").write_bytes(b"")
    (root / "roses" / "notes.txt").write_text("not a photo\n")
    (root / "roses" / "page.jpg").write_text("<html><body>404</body></html>")
    (root / "roses" / "copy_of_first_daisy.jpg").write_bytes(good)  # same photo, conflicting label
    return root


def _read_examples(data_dir: Path, split: str) -> list[dict]:
    examples = []
    for path in sorted((data_dir / split).glob("*.tfrecord.gz")):
        for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP"):
            ex = tf.train.Example.FromString(record.numpy())
            examples.append({k: v.bytes_list.value[0] for k, v in ex.features.feature.items()})
    return examples


def _rejected(data_dir: Path) -> dict[str, str]:
    with open(data_dir / "rejected.csv", newline="") as f:
        return {row["uri"]: row["reason"] for row in csv.DictReader(f)}


def test_folder_rejects_exactly_the_bad_files_with_reasons(messy_folder, tmp_path, capsys):
    out = tmp_path / "data"
    assert cli(["prepare", str(messy_folder), "--out", str(out)]) == 0
    rejected = _rejected(out)
    by_name = {Path(uri).name: reason for uri, reason in rejected.items()}
    assert set(by_name) == {
        "truncated.jpg",
        "empty.jpg",
        "notes.txt",
        "page.jpg",
        "copy_of_first_daisy.jpg",
        _photos(messy_folder.parent / "photos", "daisy", 1)[0].name,
    }
    assert by_name["empty.jpg"] == "empty file"
    assert by_name["notes.txt"].startswith("not an image")
    assert by_name["page.jpg"].startswith("not an image")
    assert "truncated" in by_name["truncated.jpg"] or "corrupt" in by_name["truncated.jpg"]
    assert "conflicting labels" in by_name["copy_of_first_daisy.jpg"]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"] == 25 and summary["rejected"] == 6 and summary["written"] == 19
    assert summary["input"] == summary["written"] + summary["rejected"]
    examples = _read_examples(out, "train") + _read_examples(out, "eval")
    assert len(examples) == 19
    assert {e["label"] for e in examples} == {b"daisy", b"roses"}
    assert (out / "dict.txt").read_text() == "daisy\nroses\n"
    assert "input 25 = written 19 + rejected 6" in capsys.readouterr().out
    # Each written example holds the original bytes, and they decode.
    original = {str(p): p.read_bytes() for p in messy_folder.rglob("*.jpg")}
    for e in examples:
        assert e["image"] == original[e["key"].decode()]


def test_split_is_stratified_deterministic_and_by_content(messy_folder, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert cli(["prepare", str(messy_folder), "--out", str(out), "--eval-fraction", "0.2"]) == 0
    for split in ("train", "eval"):
        files_a = sorted(p.name for p in (first / split).iterdir())
        assert files_a == sorted(p.name for p in (second / split).iterdir())
        for name in files_a:  # byte-identical after decompression
            assert gzip.open(first / split / name).read() == gzip.open(second / split / name).read()
    summary = json.loads((first / "summary.json").read_text())
    assert summary["classes"]["roses"] == {"train": 8, "eval": 2}
    assert summary["classes"]["daisy"]["eval"] == 2


def test_duplicate_photo_under_two_names_is_one_example(tmp_path, sample_dir):
    root = tmp_path / "photos"
    for label in ("tulips", "daisy"):  # two classes: a single one is refused
        (root / label).mkdir(parents=True)
        for photo in _photos(sample_dir, label, 10):
            shutil.copy(photo, root / label / photo.name)
    shutil.copy(_photos(sample_dir, "tulips", 1)[0], root / "tulips" / "renamed.jpg")
    out = tmp_path / "data"
    assert cli(["prepare", str(root), "--out", str(out)]) == 0
    keys = [e["key"] for e in _read_examples(out, "train") + _read_examples(out, "eval")]
    assert len(keys) == 20
    reasons = list(_rejected(out).values())
    assert len(reasons) == 1 and reasons[0].startswith("duplicate of ")


def test_csv_with_bom_crlf_quotes_header_and_relative_paths(tmp_path, sample_dir):
    images = tmp_path / "imgs"
    (images / "a, b").mkdir(parents=True)  # a comma inside a path, quoted in the CSV
    rows = []
    for label in ("daisy", "tulips"):
        for photo in _photos(sample_dir, label, 5):
            shutil.copy(photo, images / "a, b" / photo.name)
            rows.append(f'"imgs/a, b/{photo.name}", {label.upper()} ')
    rows.append("imgs/missing.jpg,daisy")
    rows.append("only-one-field")
    text = "\ufeffpath_or_uri,label\r\n" + "\r\n".join(rows) + "\r\n"
    (tmp_path / "labels.csv").write_text(text, encoding="utf-8", newline="")
    out = tmp_path / "data"
    assert cli(["prepare", str(tmp_path / "labels.csv"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["written"] == 10 and summary["rejected"] == 2 and summary["input"] == 12
    assert (out / "dict.txt").read_text() == "daisy\ntulips\n"  # labels normalised: trimmed, lower-cased
    reasons = sorted(_rejected(out).values())
    assert reasons[0] == "file not found"
    assert reasons[1].startswith("malformed CSV row")


def test_parse_csv_without_header(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")  # the first row of a headerless CSV must name a file
    listing = csv_source.parse_csv("x.jpg,cat\nsub/y.png,dog\n", str(tmp_path))
    assert [(i.uri, i.label) for i in listing.items] == [(f"{tmp_path}/x.jpg", "cat"), (f"{tmp_path}/sub/y.png", "dog")]
    assert listing.bad_rows == [] and listing.skipped == []


def test_assign_splits_never_depends_on_names():
    shas = [f"{i:064x}" for i in range(20)]
    first = dict(prepare.assign_splits(("c", shas), seed=3, eval_fraction=0.1))
    again = dict(prepare.assign_splits(("c", list(reversed(shas)) + shas[:2]), seed=3, eval_fraction=0.1))
    assert first == again and sum(s == "eval" for s in first.values()) == 2


def test_max_rejected_fraction_fails_after_writing_report(messy_folder, tmp_path, capsys):
    out = tmp_path / "data"
    assert cli(["prepare", str(messy_folder), "--out", str(out), "--max-rejected-fraction", "0.1"]) == 1
    assert (out / "rejected.csv").exists() and (out / "summary.json").exists()
    printed = capsys.readouterr()
    assert "wrote " not in printed.out  # no "wrote ..." line before the error that makes the data unusable
    assert "more than --max-rejected-fraction 10.0%; the report is in" in printed.err


def test_missing_source_is_a_clear_error(tmp_path, capsys):
    assert cli(["prepare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "source folder not found" in capsys.readouterr().err


def test_dataflow_flags_reach_the_beam_pipeline(tmp_path, sample_dir, monkeypatch):
    """`tastebud prepare ... --runner=DataflowRunner ...` hands every unknown flag to Beam unchanged."""
    from pipeline import configs

    seen = {}

    def capture(cfg):
        seen["args"] = cfg.beam_args
        from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

        seen["gcp"] = PipelineOptions(cfg.beam_args).view_as(GoogleCloudOptions)
        return {"input": 1, "written": 1, "rejected": 0, "skipped": 0, "splits": {"train": 1, "eval": 1}, "classes": {}}

    monkeypatch.setattr(prepare, "run", capture)
    flags = configs.dataflow_beam_args("acme", "europe-west4", "gs://acme", "eu.gcr.io/acme/tastebud:1")
    assert cli(["prepare", str(sample_dir), "--out", "gs://acme/data", *flags]) == 0
    assert seen["args"] == flags
    assert (seen["gcp"].project, seen["gcp"].region, seen["gcp"].temp_location) == (
        "acme",
        "europe-west4",
        "gs://acme/tmp",
    )


def test_the_copy_not_the_original_is_rejected_as_a_duplicate(tmp_path, sample_dir):
    """`IMG_0001 copy.jpg` sorts before `IMG_0001.jpg` by name; the shorter name is kept."""
    root = tmp_path / "photos"
    for label in ("tulips", "daisy"):
        (root / label).mkdir(parents=True)
        for i, photo in enumerate(_photos(sample_dir, label, 10)):
            shutil.copy(photo, root / label / f"IMG_{i:04d}.jpg")
    shutil.copy(root / "tulips" / "IMG_0001.jpg", root / "tulips" / "IMG_0001 copy.jpg")
    out = tmp_path / "data"
    assert cli(["prepare", str(root), "--out", str(out)]) == 0
    assert _rejected(out) == {
        str(root / "tulips" / "IMG_0001 copy.jpg"): f"duplicate of {root / 'tulips' / 'IMG_0001.jpg'}"
    }
