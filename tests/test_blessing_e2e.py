"""The blessing rule end to end, on generated photo sets (tests/synthetic.py):

* 10 separable classes, 55 photos each: the default pipeline (Tuner included) blesses and pushes;
* the same photos with shuffled labels, same pipeline root: nothing is pushed;
* two indistinguishable classes, 80/20, into the same root (so the label set changes):
  always answering the majority is not blessed, and the comparison is skipped and said so.

The first run uses every default; the other two cap the Tuner at 10 s (QUICK_TUNER) to
keep the suite short: their verdicts come from the bar, which tuning cannot move.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.blessing import compute_bar
from tests import synthetic
from tests.conftest import prepare_data, run_pipeline_with_output, serving_versions

pytestmark = pytest.mark.slow
QUICK_TUNER = ("--tuner-budget", "10")


@pytest.fixture(scope="module")
def ten(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ten_classes")
    rows = synthetic.separable_classes(root / "photos")
    data = prepare_data(synthetic.write_csv(rows, root / "labels.csv"), root / "data")
    runs, seconds, stdout = run_pipeline_with_output(data, root / "out", "--backbone", "efficientnet_lite0")
    return dict(root=root, rows=rows, data=data, output=root / "out", runs=runs, seconds=seconds, stdout=stdout)


def _eval_counts(data: Path) -> dict[str, int]:
    return {k: v["eval"] for k, v in json.loads((data / "summary.json").read_text())["classes"].items()}


def test_ten_classes_default_pipeline_blesses_and_pushes(ten, artifacts_dir):
    runs, stdout = ten["runs"], ten["stdout"]
    assert [r.state for r in runs.values()] == ["COMPLETE"] * len(runs), {k: r.state for k, r in runs.items()}
    order = list(runs)
    assert order.index("Transform") < order.index("Tuner") < order.index("Trainer") < order.index("Evaluator")
    bar = compute_bar(_eval_counts(ten["data"]))
    assert bar.eval_count == 60 and bar.baseline_rate == pytest.approx(0.1)
    assert runs["Evaluator"].output("blessing").properties["blessed"] == 1
    assert runs["Pusher"].output("pushed_model").properties["pushed"] == 1
    assert "BLESSED: accuracy" in stdout and "baseline rate 0.100" in stdout
    assert f"bar {bar.accuracy:.3f} ({bar.needed_correct} of 60)" in stdout and "binomial test" in stdout
    trials = json.loads((Path(runs["Tuner"].output("tuner_results").uri) / "tuner_results.json").read_text())
    assert len(trials) >= 2 and {"hidden_units", "dropout", "l2", "learning_rate", "epochs"} <= set(trials[0])
    assert runs["Tuner"].seconds < 120, runs["Tuner"].seconds
    (artifacts_dir / "ten_classes_times.json").write_text(
        json.dumps({k: round(r.seconds, 1) for k, r in runs.items()} | {"trials": len(trials)}, indent=2)
    )


def test_ten_classes_with_shuffled_labels_push_nothing(ten):
    shuffled = synthetic.write_csv(ten["rows"], ten["root"] / "shuffled.csv", shuffle_seed=3)
    data = prepare_data(shuffled, ten["root"] / "data_shuffled")
    serving = ten["output"] / "serving" / "tastebud"
    before = serving_versions(serving)
    runs, _, stdout = run_pipeline_with_output(data, ten["output"], "--backbone", "efficientnet_lite0", *QUICK_TUNER)
    assert runs["Evaluator"].output("blessing").properties["blessed"] == 0
    assert runs["Pusher"].output("pushed_model").properties.get("pushed", 0) == 0
    assert serving_versions(serving) == before
    assert "latest_blessed_model_resolver" in runs  # same labels: compared with the blessed model
    assert "NOT blessed" in stdout and "needed: at least" in stdout and "--significance" in stdout


def test_unbalanced_majority_answer_is_not_blessed_and_label_change_is_said(ten, artifacts_dir):
    rows = synthetic.indistinct_classes(ten["root"] / "blobs", {"tasty": 160, "not tasty": 40})
    csv_path = synthetic.write_csv(rows, ten["root"] / "blobs.csv")
    data = ten["root"] / "data_blobs"
    from tests.conftest import run_python

    run_python("-m", "tastebud", "prepare", str(csv_path), "--out", str(data), "--eval-fraction", "0.2")
    bar = compute_bar(_eval_counts(data))
    assert (bar.eval_count, bar.baseline_rate, bar.needed_correct) == (40, 0.8, 38)
    runs, _, stdout = run_pipeline_with_output(data, ten["output"], "--backbone", "efficientnet_lite0", *QUICK_TUNER)
    assert runs["Evaluator"].output("blessing").properties["blessed"] == 0
    assert runs["Pusher"].output("pushed_model").properties.get("pushed", 0) == 0
    assert "baseline rate 0.800" in stdout and "needed: at least 38 of 40" in stdout
    assert "label set changed" in stdout and "latest_blessed_model_resolver" not in runs
    (artifacts_dir / "unbalanced_runner_output.txt").write_text(stdout)
    # The review of that run: the bar, the baseline rate, the class-size warning, no comparison.
    from tastebud.review import build_review, text_summary
    from tastebud.review_html import render

    review = build_review(str(ten["output"]))
    assert not review.blessed and review.bar.needed_correct == 38
    assert any("unbalanced classes: 'tasty' has 160" in w for w in review.warnings)
    assert "label set changed" in review.plan.reason and not review.evaluation.has_baseline
    text = text_summary(review)
    assert "balanced accuracy" in text and "macro-F1" in text and "baseline rate 0.800" in text
    html = render(review)
    assert 'id="bar">0.950<' in html and 'id="baseline-rate">0.800<' in html and "label set changed" in html
