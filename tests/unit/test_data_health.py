"""data/health.py: the report's format and order, label conflicts between near duplicates,
blank/dark/blurry frames, and the DataHealth component's helpers. The planted faults in real
embeddings are tests/e2e/test_data_health.py."""

from __future__ import annotations

import csv
import io

from PIL import Image

from data import health
from tests.support.health_frames import drawing, jpeg, open_rgb


def test_report_csv_columns_and_order():
    rows = [
        health.row("b.jpg", "roses", "near_duplicate", 0.97, other_uri="a.jpg"),
        health.row("c.jpg", "tulips", "label", 0.61, "roses"),
        health.row("a.jpg", "roses", "near_duplicate", 0.97, other_uri="b.jpg"),  # the same pair again
        health.row("d.jpg", "daisy", "blank", 1.0),
        health.row("e.jpg", "daisy", "label", 0.93, "tulips"),
        health.row("f.jpg", "daisy", "outlier", 0.4),
    ]
    prepared = health.prepare_duplicates("uri,label,group,kept_with,distance\ng.jpg,daisy,1,h.jpg,4\n")
    ordered = health.sort_rows(rows + prepared)
    text = health.to_csv(ordered)
    assert text.splitlines()[0] == "uri,label,issue,suggested_label,score,other_uri"
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [(r["uri"], r["issue"]) for r in parsed] == [
        ("e.jpg", "label"),
        ("c.jpg", "label"),
        ("b.jpg", "near_duplicate"),
        ("g.jpg", "near_duplicate"),
        ("f.jpg", "outlier"),
        ("d.jpg", "blank"),
    ]
    assert parsed[0]["suggested_label"] == "tulips" and parsed[3] == {
        "uri": "g.jpg",
        "label": "daisy",
        "issue": "near_duplicate",
        "suggested_label": "",
        "score": "0.9375",
        "other_uri": "h.jpg",
    }
    assert health.counts(ordered) == {"label": 2, "near_duplicate": 2, "outlier": 1, "blank": 1}
    assert health.summary_line(health.counts(ordered), "r/data_health.csv") == (
        "data health: 2 photos may be mislabelled, 2 near-duplicate pairs, 1 outlier, 1 blank/dark/blurry: "
        "see r/data_health.csv"
    )
    assert health.summary_line({}, "r/data_health.csv") == "data health: no issues found"


def test_a_near_duplicate_under_another_label_is_a_label_row():
    """A half-size copy of a tulip filed under roses (found by prepare's hash) is listed as
    possibly mislabelled, suggesting its twin's label, once; pairs with one label are not."""
    label_of = {"tulip.jpg": "tulips", "copy.jpg": "roses", "a.jpg": "daisy", "b.jpg": "daisy"}
    pairs = health.prepare_duplicates(
        "uri,label,group,kept_with,distance\ncopy.jpg,roses,1,tulip.jpg,2\nb.jpg,daisy,2,a.jpg,0\n"
    )
    pairs.append(health.row("copy.jpg", "roses", "near_duplicate", 0.99, other_uri="tulip.jpg"))  # also by embedding
    rows = health.conflicting_labels(pairs, label_of, set())
    assert [(r["uri"], r["issue"], r["suggested_label"], r["other_uri"]) for r in rows] == [
        ("copy.jpg", "label", "tulips", "tulip.jpg")
    ]
    assert health.conflicting_labels(pairs, label_of, {"copy.jpg"}) == []  # cleanlab listed it already


def test_blank_dark_and_blurry_frames():
    from PIL import ImageFilter

    from bench.common import sample_images

    photo = open_rgb(sample_images()[0][2])
    frames = {
        "sharp": jpeg(photo),
        "dark": jpeg(photo.point(lambda v: v // 10)),
        "blurry": jpeg(photo.filter(ImageFilter.GaussianBlur(4))),
        "blank": jpeg(Image.new("RGB", (320, 240), (90, 90, 90))),
        "black": jpeg(Image.new("RGB", (320, 240), (0, 0, 0))),
    }
    issues = {name: [r["issue"] for r in health.image_issues(name, "x", data)] for name, data in frames.items()}
    assert issues == {"sharp": [], "dark": ["dark"], "blurry": ["blurry"], "blank": ["blank"], "black": ["dark"]}
    stats = {name: [round(v, 1) for v in health.image_statistics(data)] for name, data in frames.items()}
    print(f"\n(mean, std, Laplacian variance): {stats}")


def test_component_helpers_write_and_read_the_report(tmp_path):
    from bench.common import write_examples
    from local_runner import parse_args
    from pipeline import data_health
    from pipeline.results import Artifact, ComponentRun

    black = jpeg(Image.new("RGB", (64, 48), (0, 0, 0)))
    files = [str(write_examples([("a.jpg", "roses", black), ("b.jpg", "tulips", drawing())], tmp_path / "x.gz"))]
    import apache_beam as beam

    (tmp_path / "work").mkdir()
    rows, photos = data_health.image_rows(files, str(tmp_path / "work"), beam.Pipeline())  # Beam's DirectRunner
    assert photos == 2 and [(r["uri"], r["issue"]) for r in rows] == [("a.jpg", "dark")]
    assert not list((tmp_path / "work").iterdir())  # its scratch files are gone
    assert data_health.prepare_rows(str(tmp_path)) == []
    (tmp_path / health.PREPARE_DUPLICATES_FILE).write_text(
        "uri,label,group,kept_with,distance\nc.jpg,roses,0,d.jpg,0\n"
    )
    rows += data_health.prepare_rows(str(tmp_path))
    summary = data_health.write_report(str(tmp_path / "report"), health.sort_rows(rows), photos, 1.5)
    assert summary == {
        "counts": {"near_duplicate": 1, "dark": 1},
        "photos": 2,
        "seconds": 1.5,
        "csv": str(tmp_path / "report" / health.CSV_FILE),
    }
    written = (tmp_path / "report" / health.CSV_FILE).read_text().splitlines()
    assert written[1:] == ["c.jpg,roses,near_duplicate,,1.0,d.jpg", "a.jpg,roses,dark,,1.0,"]
    run = ComponentRun("DataHealth", "COMPLETE", 1.0, {"report": [Artifact("r", {"counts": '{"dark": 1}'})]})
    assert data_health.summary_line(run) == "data health: 1 blank/dark/blurry: see r/data_health.csv"
    assert data_health.summary_line(None) is None
    assert parse_args(["--no-data-health"]).no_data_health and not parse_args([]).no_data_health
