"""data/health.py: the report's format, and planted faults found in real embeddings.

The planted-fault test builds 600 clean photos from the bundled sample (the 200 photos
and two 60%-side crops of each, one turned), embeds them with EfficientNet-Lite0 through
the Transform graph's own decode (bench/sideways_bench.embed), computes out-of-fold
probabilities with models/out_of_fold.py (folds grouped by source photo, so no crop is
scored by a head that saw its own photo), then plants faults: 5% wrong labels, blank
frames, an off-topic noise image and a drawn shape, and resized, recompressed copies.
The same checks on the clean set measure the false alarms.
"""

from __future__ import annotations

import csv
import io
import os
import random
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from data import health

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

FOLDS = 5
WRONG_FRACTION = 0.05
COPIES = 12
BLANK_COLOURS = ((128, 128, 128), (250, 250, 250), (10, 10, 10), (40, 90, 200))


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _crop(data: bytes, corner: int, turn: bool) -> bytes:
    """A 60%-side crop from the top-left (corner 0) or bottom-right (corner 1), optionally turned."""
    im = _open(data)
    w, h = im.size
    cw, ch = int(w * 0.6), int(h * 0.6)
    x, y = (0, 0) if corner == 0 else (w - cw, h - ch)
    im = im.crop((x, y, x + cw, y + ch))
    return _jpeg(im.transpose(Image.Transpose.ROTATE_90) if turn else im)


def _copy(data: bytes) -> bytes:
    """Resized to 90% and recompressed at quality 85 (the sample's photos are ~320 px: smaller
    copies fall below the backbone's 224 px and are different pictures to it)."""
    im = _open(data)
    return _jpeg(im.resize((round(im.width * 0.9), round(im.height * 0.9)), Image.Resampling.LANCZOS), 85)


def _noise(rng: np.random.Generator) -> bytes:
    return _jpeg(Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)))


def _drawing() -> bytes:
    im = Image.new("RGB", (320, 240), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    draw.rectangle((40, 40, 150, 200), outline=(0, 0, 0), width=6)
    draw.ellipse((170, 60, 290, 180), fill=(220, 30, 30))
    return _jpeg(im)


@pytest.fixture(scope="module")
def photos() -> dict:
    """Clean and planted photo sets with embeddings and out-of-fold probabilities."""
    from bench.common import sample_images
    from bench.sideways_bench import embed
    from models.out_of_fold import out_of_fold_scores
    from models.tuning import stratified_folds
    from pipeline import configs

    base = sample_images()
    names = sorted({label for _, label, _ in base})
    rows = [(key, label, data, i) for i, (key, label, data) in enumerate(base)]  # (key, label, bytes, source)
    for corner, turn in ((0, False), (1, True)):
        rows += [
            (f"{key}#crop{corner}", label, _crop(data, corner, turn), i) for i, (key, label, data) in enumerate(base)
        ]
    rng, pick = np.random.default_rng(0), random.Random(0)
    copied = pick.sample(range(len(base)), COPIES)
    extras = [(f"{base[i][0]}#copy", base[i][1], _copy(base[i][2]), i) for i in copied]
    blanks = [
        (f"blank{j}.jpg", names[j % len(names)], _jpeg(Image.new("RGB", (320, 240), c)), -1)
        for j, c in enumerate(BLANK_COLOURS)
    ]
    off_topic = [("noise.jpg", names[0], _noise(rng), -1), ("drawing.jpg", names[1], _drawing(), -1)]
    extras += blanks + off_topic
    started = time.monotonic()
    embeddings = embed([data for _, _, data, _ in rows + extras])
    embed_s = time.monotonic() - started
    source_folds = stratified_folds(np.array([names.index(label) for _, label, _ in base]), FOLDS, configs.CV_SEED)
    folds = np.array([source_folds[s] if s >= 0 else j % FOLDS for j, (*_, s) in enumerate(rows + extras)])
    hp = dict(configs.HYPERPARAMETERS)

    def oof(labels: np.ndarray, x: np.ndarray, f: np.ndarray) -> np.ndarray:
        return out_of_fold_scores(x, labels, len(names), hp, f)

    clean_labels = np.array([names.index(label) for _, label, _, _ in rows])
    wrong = pick.sample(range(len(rows)), round(WRONG_FRACTION * len(rows)))
    planted_labels = np.concatenate([clean_labels, [names.index(label) for _, label, _, _ in extras]])
    for i in wrong:
        planted_labels[i] = (planted_labels[i] + pick.randrange(1, len(names))) % len(names)
    n = len(rows)
    return {
        "names": names,
        "clean": (rows, clean_labels, embeddings[:n], oof(clean_labels, embeddings[:n], folds[:n])),
        "planted": (rows + extras, planted_labels, embeddings, oof(planted_labels, embeddings, folds)),
        "wrong": [rows[i][0] for i in wrong],
        "copies": [(base[i][0], f"{base[i][0]}#copy") for i in copied],
        "blanks": [key for key, *_ in blanks],
        "off_topic": [key for key, *_ in off_topic],
        "embed_s": embed_s,
    }


def _report(names: list[str], rows: list, labels: np.ndarray, embeddings: np.ndarray, scores: np.ndarray) -> list[dict]:
    keys = [key for key, *_ in rows]
    image_rows = [
        r
        for (key, _, data, _), label in zip(rows, labels, strict=True)
        for r in health.image_issues(key, names[label], data)
    ]
    return health.check(keys, labels, names, scores, embeddings, image_rows)


@pytest.mark.slow
def test_planted_faults_are_found_and_a_clean_set_raises_few_alarms(photos):
    names = photos["names"]
    started = time.monotonic()
    planted = _report(names, *photos["planted"])
    checks_s = time.monotonic() - started
    clean = _report(names, *photos["clean"])
    photo_count = len(photos["planted"][0])

    label_rows = [r["uri"] for r in planted if r["issue"] == "label"]
    wrong = photos["wrong"]
    top = set(label_rows[: 2 * len(wrong)])
    label_recall = sum(key in top for key in wrong) / len(wrong)
    pairs = {frozenset((r["uri"], r["other_uri"])) for r in planted if r["issue"] == "near_duplicate"}
    copies_found = sum(frozenset(pair) in pairs for pair in photos["copies"])
    flagged = {(r["uri"], r["issue"]) for r in planted}
    blanks_found = sum((key, "blank") in flagged or (key, "dark") in flagged for key in photos["blanks"])
    off_topic_found = sum((key, "outlier") in flagged for key in photos["off_topic"])
    clean_counts = health.counts(clean)
    print(
        f"\n{photo_count} photos, embedded in {photos['embed_s']:.1f} s, checks {checks_s:.1f} s\n"
        f"planted: {len(wrong)} wrong labels, {label_recall:.0%} in the first {2 * len(wrong)} label rows "
        f"({sum(k in set(label_rows) for k in wrong)} of {len(wrong)} among all {len(label_rows)} label rows); "
        f"copies {copies_found}/{len(photos['copies'])}; blanks {blanks_found}/{len(photos['blanks'])}; "
        f"off-topic {off_topic_found}/{len(photos['off_topic'])}; counts {health.counts(planted)}\n"
        f"clean set of {len(photos['clean'][0])}: {len(clean)} rows {clean_counts}"
    )
    assert label_recall >= 0.5
    assert copies_found >= 10
    assert blanks_found == len(photos["blanks"])
    assert off_topic_found == len(photos["off_topic"])
    non_label = sum(n for issue, n in clean_counts.items() if issue != "label")
    assert non_label <= 3, clean_counts  # measured: 0
    assert clean_counts.get("label", 0) <= 0.08 * len(photos["clean"][0]), clean_counts  # measured: 32 of 600


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

    photo = _open(sample_images()[0][2])
    frames = {
        "sharp": _jpeg(photo),
        "dark": _jpeg(photo.point(lambda v: v // 10)),
        "blurry": _jpeg(photo.filter(ImageFilter.GaussianBlur(4))),
        "blank": _jpeg(Image.new("RGB", (320, 240), (90, 90, 90))),
        "black": _jpeg(Image.new("RGB", (320, 240), (0, 0, 0))),
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

    black = _jpeg(Image.new("RGB", (64, 48), (0, 0, 0)))
    files = [str(write_examples([("a.jpg", "roses", black), ("b.jpg", "tulips", _drawing())], tmp_path / "x.gz"))]
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
