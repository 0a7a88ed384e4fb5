"""The blessing rule end to end, on small two-class sets, with the default pipeline (Tuner included).

Five different 100-photo two-class sets drawn from the bundled sample: each class is two
flower species (25 photos of each, drawn per set), as a personal "sweet vs savoury" set
mixes kinds of food. Then:

* each set through the default pipeline, in its own root: at least 4 of 5 are pushed;
* the same photos with shuffled labels, into the same root (so the blessed model is the
  baseline): none is pushed, and the out-of-fold bar itself says no;
* two indistinguishable generated classes, 160/40, into the first root (so the label set
  changes): always answering the majority is not blessed, and the comparison is skipped
  and said so; its review shows the bar, the class-size warning and no comparison.

All eleven runs go through one process (tests/batch_pipelines.py) to save start-up time.
This replaces the earlier blessing end-to-end runs (10 generated classes, their shuffled
copy, the 80/20 set): the five sets and the 5-class sample cover what they checked.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipeline import results
from pipeline.blessing import compute_bar
from tests import synthetic
from tests.conftest import SAMPLE, run_python, serving_versions

pytestmark = pytest.mark.slow

SETS = [  # (class a, class b): each two species
    (("daisy", "dandelion"), ("roses", "tulips")),
    (("daisy", "roses"), ("sunflowers", "tulips")),
    (("dandelion", "sunflowers"), ("daisy", "tulips")),
    (("roses", "sunflowers"), ("dandelion", "tulips")),
    (("daisy", "sunflowers"), ("dandelion", "roses")),
]
PER_SPECIES = 25
LITE0 = ["--backbone", "efficientnet_lite0"]
ORDER = ["Transform", "Tuner", "OutOfFold", "Trainer", "Evaluator", "BlessingGate", "Pusher"]


def _rows(index: int, species: tuple[tuple[str, ...], tuple[str, ...]]) -> list[tuple[Path, str]]:
    rng = random.Random(index)
    rows = []
    for group in species:
        label = "+".join(group)
        for name in group:
            photos = sorted((SAMPLE / name).glob("*.jpg"))
            rows += [(p, label) for p in rng.sample(photos, PER_SPECIES)]
    return rows


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("push_rate")
    plan = []
    for i, species in enumerate(SETS):
        rows = _rows(i, species)
        out = str(root / f"out{i}")
        real = synthetic.write_csv(rows, root / f"set{i}.csv")
        shuffled = synthetic.write_csv(rows, root / f"set{i}_shuffled.csv", shuffle_seed=i)
        plan.append({"source": str(real), "data": str(root / f"data{i}"), "output": out, "flags": LITE0})
        plan.append({"source": str(shuffled), "data": str(root / f"data{i}s"), "output": out, "flags": LITE0})
    blobs = synthetic.indistinct_classes(root / "blobs", {"tasty": 160, "not tasty": 40})
    plan.append(
        {
            "source": str(synthetic.write_csv(blobs, root / "blobs.csv")),
            "data": str(root / "data_blobs"),
            "output": str(root / "out0"),
            "flags": LITE0,
            "eval_fraction": 0.2,
        }
    )
    (root / "plan.json").write_text(json.dumps(plan))
    run_python("-m", "tests.batch_pipelines", str(root / "plan.json"), str(root / "results.json"), timeout=3000)
    done = json.loads((root / "results.json").read_text())
    for entry, result in zip(plan, done, strict=True):
        store = results.sqlite_store(str(Path(entry["output"]) / "metadata.sqlite"))
        result["runs"] = results.component_runs(store, result["run_id"])
        result["output"] = entry["output"]
    return {"real": done[0:10:2], "shuffled": done[1:10:2], "blobs": done[10], "root": root}


def _pushed(result: dict) -> bool:
    pusher = result["runs"]["Pusher"].output("pushed_model")
    return bool(pusher.properties.get("pushed"))


def test_small_two_class_sets_are_pushed(batch, artifacts_dir):
    bar = compute_bar({"a": 50, "b": 50})
    table = []
    for result in batch["real"]:
        runs = result["runs"]
        assert [r.state for r in runs.values()] == ["COMPLETE"] * len(runs), {k: r.state for k, r in runs.items()}
        order = list(runs)
        assert [order.index(name) for name in ORDER] == sorted(order.index(name) for name in ORDER)
        gate = runs["BlessingGate"].output("blessing").properties
        assert gate["cv_count"] == 100 and gate["cv_needed"] == bar.needed_correct == 63
        assert result["verdict"].startswith(("BLESSED: 5-fold CV over 100 photos", "NOT blessed: 5-fold CV over 100"))
        assert "bar 0.630 (63 of 100)" in result["verdict"] and "no-skill model through" in result["verdict"]
        assert gate["blessed"] == int(_pushed(result)) == int(result["blessed"])
        table.append(
            {
                "cv_accuracy": gate["cv_correct"] / 100,
                "pushed": _pushed(result),
                "seconds": result["seconds"],
                "components_s": {k: round(r.seconds, 1) for k, r in runs.items()},
            }
        )
    trials = json.loads(
        (Path(batch["real"][0]["runs"]["Tuner"].output("tuner_results").uri) / "tuner_results.json").read_text()
    )
    assert len(trials) >= 2 and {"hidden_units", "dropout", "l2", "learning_rate", "epochs"} <= set(trials[0])
    (artifacts_dir / "push_rate.json").write_text(json.dumps({"real": table}, indent=2))
    assert sum(row["pushed"] for row in table) >= 4, table


def test_the_same_sets_with_shuffled_labels_push_nothing(batch, artifacts_dir):
    table = []
    for real, result in zip(batch["real"], batch["shuffled"], strict=True):
        runs = result["runs"]
        gate = runs["BlessingGate"].output("blessing").properties
        assert gate["blessed"] == 0 and gate["cv_passed"] == 0, gate  # the out-of-fold bar itself says no
        assert not _pushed(result)
        if _pushed(real):  # same labels: compared with the model the real set blessed
            assert "latest_blessed_model_resolver" in runs and runs["Evaluator"].output("evaluation")
            serving = Path(result["output"]) / "serving" / "tastebud"
            assert len(serving_versions(serving)) == 1
        text = result["verdict"]
        assert text.startswith("NOT blessed: 5-fold CV over 100 photos") and "63 of 100 right out of fold" in text
        assert "--significance 0.05" in text
        table.append({"cv_accuracy": gate["cv_correct"] / 100, "seconds": result["seconds"]})
    path = artifacts_dir / "push_rate.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(record | {"shuffled": table}, indent=2))


def test_unbalanced_majority_answer_is_not_blessed_and_label_change_is_said(batch, artifacts_dir):
    result = batch["blobs"]
    runs, text = result["runs"], result["verdict"]
    bar = compute_bar({"tasty": 160, "not tasty": 40})
    gate = runs["BlessingGate"].output("blessing").properties
    assert gate["blessed"] == 0 and gate["cv_passed"] == 0 and gate["cv_needed"] == bar.needed_correct
    assert not _pushed(result)
    assert "baseline rate 0.800" in text and f"bar {bar.accuracy:.3f} ({bar.needed_correct} of 200)" in text
    assert "label set changed" in text and "latest_blessed_model_resolver" not in runs
    (artifacts_dir / "unbalanced_runner_output.txt").write_text(text)
    from tastebud.review import build_review, text_summary
    from tastebud.review_html import render

    review = build_review(result["output"])
    assert not review.blessed and review.bar.needed_correct == bar.needed_correct
    assert any("unbalanced classes: 'tasty' has 160" in w for w in review.warnings)
    assert "label set changed" in review.plan.reason and not review.evaluation.has_baseline
    summary = text_summary(review)
    assert "balanced accuracy" in summary and "macro-F1" in summary and "baseline rate 0.800" in summary
    html = render(review)
    assert f'id="bar">{bar.accuracy:.3f}<' in html and 'id="baseline-rate">0.800<' in html
    assert "label set changed" in html
