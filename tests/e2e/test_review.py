"""`tastebud review` on a real pipeline run: numbers match TFMA's API, the HTML renders."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import results
from tastebud.cli import main as cli
from tastebud.review import build_review
from tests.support.common import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_run_id(flowers) -> str:
    return results.run_ids(results.sqlite_store(str(flowers["output"] / "metadata.sqlite")))[0]


@pytest.fixture(scope="module")
def review(flowers, first_run_id):
    return build_review(str(flowers["output"]), first_run_id)


def test_review_numbers_match_tfma(review, flowers):
    import tensorflow_model_analysis as tfma

    overall = next(m for m in tfma.load_metrics(review.evaluation_uri) if not m.slice_key.single_slice_keys)
    tfma_values = {
        (
            kv.key.name,
            kv.key.sub_key.class_id.value if kv.key.HasField("sub_key") else None,
        ): kv.value.double_value.value
        for kv in overall.metric_keys_and_values
        if not kv.key.is_diff and kv.key.model_name in ("", "candidate")
    }
    assert review.evaluation.accuracy == pytest.approx(tfma_values[("sparse_categorical_accuracy", None)])
    assert review.evaluation.example_count == tfma_values[("example_count", None)] == 20
    for i, c in enumerate(review.evaluation.classes):
        assert c.precision == pytest.approx(tfma_values[("precision", i)], nan_ok=True)
        assert c.recall == pytest.approx(tfma_values[("recall", i)], nan_ok=True)
    assert review.evaluation.confusion.sum() == 20
    assert [c.support for c in review.evaluation.classes] == [4] * 5
    # The gallery comes from running the evaluated model; it must agree with TFMA's accuracy.
    assert len(review.mistakes) == round((1 - review.evaluation.accuracy) * 20)
    assert review.blessed and review.settings["backbone"] == "efficientnet_lite0"
    # The bar and why: 200 photos judged out of fold, 40 per class, so the majority rate is 0.2 and
    # p < 0.01 needs 55 right; the model to push needs 1 of its 20 eval photos (not significantly below 0.275).
    assert (review.bar.photo_count, review.bar.majority_rate, review.bar.needed_correct) == (200, 0.2, 55)
    assert (review.holdout.eval_count, review.holdout.floor_correct) == (20, 1)
    assert review.cv_correct >= 55
    recalls = [c.recall for c in review.evaluation.classes]
    assert review.evaluation.balanced_accuracy == pytest.approx(sum(recalls) / 5)
    assert review.evaluation.macro_f1 == pytest.approx(sum(c.f1 for c in review.evaluation.classes) / 5)
    assert review.warnings == []  # 36-40 photos per class: balanced
    assert "tuner trials" in review.settings and "l2" in review.settings
    assert review.settings["dataset"] == str(flowers["data"])


def test_review_adds_up_on_a_run_with_mistakes(review):
    """Per-class recall x support sums to accuracy's count; precision is the confusion matrix's column;
    both agree with the mistakes the evaluated model makes when run again (review.mistakes)."""
    evaluation, n = review.evaluation, review.evaluation.example_count
    assert 0 < evaluation.correct < n, "the bundled sample's eval split has mistakes: something to add up"
    assert sum(round(c.recall * c.support) for c in evaluation.classes) == evaluation.correct
    assert evaluation.correct == round(evaluation.accuracy * n) == np.trace(evaluation.confusion)
    for i, c in enumerate(evaluation.classes):
        column = evaluation.confusion[:, i]
        assert c.predicted == column.sum() and c.support == evaluation.confusion[i].sum()
        assert c.precision == (
            pytest.approx(column[i] / column.sum()) if column.sum() else pytest.approx(np.nan, nan_ok=True)
        )
        missed = sum(m.true_label == c.label for m in review.mistakes)
        wrongly_given = sum(m.predicted == c.label for m in review.mistakes)
        assert c.correct == c.support - missed == c.predicted - wrongly_given
        low, high = c.recall_interval
        assert low <= c.recall <= high and high - low > 0.3  # 4 photos: a wide interval
    low, high = evaluation.accuracy_interval
    assert 0 < low < evaluation.accuracy < high < 1
    assert evaluation.balanced_accuracy == pytest.approx(np.mean([c.recall for c in evaluation.classes]))
    assert "?" not in review.settings.values() and "train steps" not in review.settings  # no --train-steps


def test_review_cli_writes_html_that_renders(flowers, first_run_id, tmp_path, capsys, artifacts_dir):
    from playwright.sync_api import sync_playwright

    report = tmp_path / "review.html"
    assert cli(["review", "--output", str(flowers["output"]), "--run", first_run_id, "--report", str(report)]) == 0
    out = capsys.readouterr().out
    (artifacts_dir / "review.txt").write_text(out)
    assert "BLESSED" in out and "eval accuracy" in out and f"report: {report}" in out
    assert "5-fold CV over 200 photos" in out and "bar 0.275 (55 of 200)" in out and "binomial test" in out
    assert "majority rate 0.200" in out and "no-skill model through" in out
    assert "balanced accuracy" in out and "macro-F1" in out
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(report.as_uri())
        assert (
            page.evaluate(
                "document.getElementById('heatmap').complete && document.getElementById('heatmap').naturalWidth"
            )
            > 100
        )
        rows = page.query_selector_all("#per-class tr.class-row")
        assert [r.query_selector("td").inner_text() for r in rows] == [
            "daisy",
            "dandelion",
            "roses",
            "sunflowers",
            "tulips",
        ]
        assert page.inner_text("#verdict").strip() == "BLESSED"
        assert page.inner_text("#bar") == "0.275" and page.inner_text("#bar-majority-rate") == "0.200"
        assert float(page.inner_text("#cv-accuracy")) >= 0.275 and page.inner_text("#eval-floor") == "0.050"
        assert "binomial test" in page.inner_text("#bar-reason")
        assert float(page.inner_text("#balanced-accuracy")) > 0.2 and float(page.inner_text("#macro-f1")) > 0.2
        right, _, total = page.inner_text("#accuracy-count").split(",")[0].split()
        counts = [r.query_selector(".recall-count").inner_text().split(",")[0].split() for r in rows]
        assert total == "20" and sum(int(c[0]) for c in counts) == int(right) and "95% CI" in out
        assert sum(int(r.query_selector(".predicted").inner_text()) for r in rows) == 20
        page.screenshot(path=str(artifacts_dir / "review.png"), full_page=True)
        browser.close()


def test_review_without_any_run_is_a_clear_message(tmp_path, capsys):
    assert cli(["review", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no pipeline run found" in err and "make demo" in err and "Traceback" not in err
