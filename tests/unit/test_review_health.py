"""The review's data-health section, from a hand-written DataHealth report (no pipeline run):
reading the csv, the text line, the HTML section with its thumbnails (one photo missing),
`tastebud review` copying the csv, and the section in a real browser at phone width."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import results
from pipeline.evaluation import EvaluationSummary, class_metrics
from tastebud import review as review_module
from tastebud.cli import main as cli
from tastebud.review import Review, text_summary
from tastebud.review_health import CSV_FILE, JSON_FILE, TOP, find_health, gallery, read_report
from tastebud.review_html import render
from tests.support.common import PHONE, SAMPLE
from tests.support.phone_photos import open_photo, stored_with_tag

HEADER = ["uri", "label", "issue", "suggested_label", "score", "other_uri"]
OUTLIERS = TOP + 3  # more than the section shows


def _photos(label: str) -> list[str]:
    return [str(p) for p in sorted((SAMPLE / label).glob("*.jpg"))]


@pytest.fixture()
def report_dir(tmp_path) -> Path:
    """A DataHealth artifact folder: data_health.csv (as the contract sorts it) and data_health.json."""
    daisy, roses, tulips = _photos("daisy"), _photos("roses"), _photos("tulips")
    sideways = tmp_path / "photos" / "sideways.jpg"  # a phone photo stored turned, EXIF orientation 6
    sideways.parent.mkdir()
    sideways.write_bytes(stored_with_tag(open_photo(Path(roses[1]).read_bytes()), 6))
    missing = str(tmp_path / "photos" / "moved_away.jpg")
    rows = [
        [missing, "tulips", "blurry", "", "0.70", ""],
        [roses[2], "roses", "dark", "", "0.80", ""],
        [daisy[0], "daisy", "label", "roses", "0.91", ""],
        [str(sideways), "roses", "label", "tulips", "0.55", ""],
        [daisy[1], "daisy", "near_duplicate", "", "0.98", daisy[2]],
        *[[tulips[i], "tulips", "outlier", "", f"{0.9 - i / 100:.2f}", ""] for i in range(OUTLIERS)],
    ]
    artifact = tmp_path / "DataHealth" / "report" / "7"
    artifact.mkdir(parents=True)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([HEADER, *rows])
    (artifact / CSV_FILE).write_text(buffer.getvalue())
    counts = {"label": 2, "near_duplicate": 1, "outlier": OUTLIERS, "blank": 0, "dark": 1, "blurry": 1}
    summary = {"counts": counts, "photos": 200, "seconds": 4.2, "csv": str(artifact / CSV_FILE)}
    (artifact / JSON_FILE).write_text(json.dumps(summary))
    return artifact


def _review(health) -> Review:
    """A Review with a small hand-made evaluation: what build_review returns, without a run."""
    labels = ["daisy", "roses", "tulips"]
    confusion = np.array([[3, 1, 0], [0, 4, 0], [0, 0, 4]])
    evaluation = EvaluationSummary(labels, 11 / 12, 12, class_metrics(labels, confusion), confusion, True)
    return Review(
        run_id="2026-12-04T19:00:00",
        blessed=True,
        evaluation=evaluation,
        mistakes=[],
        settings={"dataset": str(SAMPLE), "labels": ", ".join(labels)},
        pushed_to=None,
        evaluation_uri="/out/Evaluator/evaluation/9",
        model_uri="/out/Trainer/model/8",
        health=health,
    )


def test_read_report_counts_each_issue_and_keeps_the_top_rows(report_dir):
    health = read_report(str(report_dir))
    assert health.counts == {"label": 2, "near_duplicate": 1, "outlier": OUTLIERS, "dark": 1, "blurry": 1}
    assert [i.issue for i in health.issues] == ["label", "near_duplicate", "outlier", "dark", "blurry"]
    outliers = health.issues[2]
    assert len(outliers.rows) == TOP and outliers.rows[0].score == 0.9
    assert [r.score for r in outliers.rows] == sorted((r.score for r in outliers.rows), reverse=True)
    label = health.issues[0].rows[0]
    assert (label.label, label.suggested_label, label.score, label.other_uri) == ("daisy", "roses", 0.91, "")
    assert health.issues[1].rows[0].other_uri.endswith(".jpg")
    assert (health.photos, health.seconds) == (200, 4.2)
    assert read_report(str(report_dir / CSV_FILE)).counts == health.counts  # the csv's own path works too
    line = text_summary(_review(health)).splitlines()[-1]
    assert line == f"  data health: 2 label, 1 near_duplicate, {OUTLIERS} outlier, 1 dark, 1 blurry in 200 photos " + (
        f"({report_dir / CSV_FILE})"
    )


def test_the_run_s_datahealth_artifact_is_found_and_absent_without_it(report_dir):
    def run(uri: str) -> dict[str, results.ComponentRun]:
        return {"DataHealth": results.ComponentRun("DataHealth", "COMPLETE", 3.0, {"report": [results.Artifact(uri)]})}

    assert find_health(run(str(report_dir))).csv == str(report_dir / CSV_FILE)
    assert find_health({"Trainer": results.ComponentRun("Trainer", "COMPLETE", 1.0, {})}) is None  # --no-data-health
    assert find_health(run(str(report_dir.parent / "8"))) is None  # recorded, but no csv (a failed run)
    html = render(_review(None))
    assert 'id="data-health"' not in html and "data health" not in text_summary(_review(None))


def test_the_section_shows_each_issue_with_thumbnails_and_a_placeholder(report_dir):
    html = render(_review(read_report(str(report_dir))))
    section = html[html.index('<section id="data-health">') : html.index("</section>")]
    assert 'Possibly mislabelled <span class="count">(2)</span>' in section
    assert f'Outliers <span class="count">({OUTLIERS})</span>' in section and "Blank photos" not in section
    assert "tastebud prepare --exclude FILE.csv" in section and "remove one copy" in section
    # 2 label + 2 (the pair) + TOP outliers + 1 dark photos shown; the blurry one is gone from disk
    assert section.count("data:image/jpeg;base64,") == 2 + 2 + TOP + 1
    assert section.count("photo not found") == 1 and "moved_away.jpg" in section
    assert 'class="suggested">roses</strong>' in section and "score 0.91" in section


def test_thumbnails_are_upright(report_dir):
    """The sideways-stored phone photo (EXIF 6) is shown upright, as in the mistakes gallery."""
    (_, label_rows), *_ = gallery(read_report(str(report_dir)))
    _, thumb, _ = label_rows[1]
    stored = Image.open(report_dir.parents[2] / "photos" / "sideways.jpg")
    with Image.open(io.BytesIO(base64.b64decode(thumb.split(",", 1)[1]))) as shown:
        assert (shown.width > shown.height) == (stored.height > stored.width)  # turned back


def test_review_copies_the_csv_beside_the_report(report_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(review_module, "build_review", lambda output, run_id: _review(read_report(str(report_dir))))
    report = tmp_path / "shared" / "review.html"
    assert cli(["review", "--output", str(tmp_path), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    copied = report.parent / CSV_FILE
    assert copied.read_text() == (report_dir / CSV_FILE).read_text()
    assert f"data health: copied the full list to {copied}" in out and "data health: 2 label" in out


def test_the_section_in_a_browser_fits_a_phone(report_dir, tmp_path, phone, artifacts_dir):
    report = tmp_path / "review.html"
    report.write_text(render(_review(read_report(str(report_dir)))), encoding="utf-8")
    phone.goto(report.as_uri())
    assert phone.is_visible("#data-health") and phone.is_visible("#health-label .advice")
    loaded = "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    assert phone.eval_on_selector_all("#data-health img", loaded) == [True] * (2 + 2 + TOP + 1)
    assert phone.is_visible("#health-blurry .missing")
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    for selector in ("#data-health h3", ".advice", ".health-photo", ".health-photo img", ".missing", "figcaption"):
        for element in phone.query_selector_all(selector):
            box = element.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
    pair = phone.query_selector_all("#health-near_duplicate .health-photo img")
    assert len(pair) == 2 and pair[0].bounding_box()["width"] >= 90  # both photos of the pair, not squeezed
    phone.locator("#data-health").screenshot(path=str(artifacts_dir / "review_health_phone.png"))


def test_a_clean_report_says_no_issue_found(tmp_path):
    (tmp_path / CSV_FILE).write_text(",".join(HEADER) + "\n")  # no data_health.json: photos unknown
    health = read_report(str(tmp_path))
    assert health.issues == [] and health.line() == f"  data health: no issue found ({tmp_path / CSV_FILE})"
    html = render(_review(health))
    section = html[html.index('<section id="data-health">') : html.index("</section>")]
    assert "No issue found." in section and "<h3>" not in section
