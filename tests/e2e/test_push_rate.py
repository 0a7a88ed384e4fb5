"""The blessing rule end to end, on small two-class sets, with the default pipeline (Tuner included).

Five different 100-photo two-class sets drawn from the bundled sample: each class is two
flower species (25 photos of each, drawn per set), as a personal "sweet vs savoury" set
mixes kinds of food. Then:

* each set through the default pipeline, in its own root: at least 4 of 5 are pushed;
* the first two sets' photos with shuffled labels, each into the next set's root (so the last
  blessed model has other labels and no baseline comparison can be what refuses them): none
  is pushed, the out-of-fold bar itself says no, and the output says the label set changed;
  the review of one of them shows the bar and no comparison. (Two, not five: the bar's
  false-positive rate is simulated in tests/unit/test_blessing.py; these check the wiring.)

All seven runs go through one process (tests/support/batch_pipelines.py) to save start-up time.
This replaces the earlier blessing end-to-end runs (10 generated classes, their shuffled
copy, an 80/20 set): these sets, the 5-class sample (tests/e2e/test_pipeline_e2e.py) and the
unit tests of the bar (tests/unit/test_blessing.py) cover what they checked.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipeline import results
from pipeline.blessing import compute_bar
from tests.support import synthetic
from tests.support.common import SAMPLE
from tests.support.pipeline_runs import run_python, serving_versions

pytestmark = pytest.mark.slow

SETS = [  # (class a, class b): each two species
    (("daisy", "dandelion"), ("roses", "tulips")),
    (("daisy", "roses"), ("sunflowers", "tulips")),
    (("dandelion", "sunflowers"), ("daisy", "tulips")),
    (("roses", "sunflowers"), ("dandelion", "tulips")),
    (("daisy", "sunflowers"), ("dandelion", "roses")),
]
PER_SPECIES = 25
SHUFFLED = 2  # how many of the sets also run with shuffled labels
LITE0 = ["--backbone", "efficientnet_lite0"]
EDGES = [  # the DAG's dependencies (OutOfFold and Trainer may run in either order)
    ("Transform", "Tuner"),
    ("Tuner", "OutOfFold"),
    ("Tuner", "Trainer"),
    ("Trainer", "Evaluator"),
    ("Evaluator", "BlessingGate"),
    ("OutOfFold", "BlessingGate"),
    ("OutOfFold", "DataHealth"),
    ("BlessingGate", "Pusher"),
]


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
    real, shuffled = [], []
    for i, species in enumerate(SETS):
        rows = _rows(i, species)
        csv_real = synthetic.write_csv(rows, root / f"set{i}.csv")
        real.append({"source": str(csv_real), "data": str(root / f"data{i}"), "output": str(root / f"out{i}")})
        next_root = str(root / f"out{(i + 1) % len(SETS)}")
        if i < SHUFFLED:
            csv_shuffled = synthetic.write_csv(rows, root / f"set{i}_shuffled.csv", shuffle_seed=i)
            shuffled.append({"source": str(csv_shuffled), "data": str(root / f"data{i}s"), "output": next_root})
    plan = [entry | {"flags": LITE0} for entry in real + shuffled]
    (root / "plan.json").write_text(json.dumps(plan))
    run_python("-m", "tests.support.batch_pipelines", str(root / "plan.json"), str(root / "results.json"), timeout=3000)
    done = json.loads((root / "results.json").read_text())
    for entry, result in zip(plan, done, strict=True):
        store = results.sqlite_store(str(Path(entry["output"]) / "metadata.sqlite"))
        result["runs"] = results.component_runs(store, result["run_id"])
        result["output"] = entry["output"]
    return {"real": done[: len(SETS)], "shuffled": done[len(SETS) :], "root": root}


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
        for before, after in EDGES:
            assert order.index(before) < order.index(after), (before, after, order)
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
    for result in batch["shuffled"]:
        runs, text = result["runs"], result["verdict"]
        gate = runs["BlessingGate"].output("blessing").properties
        assert gate["blessed"] == 0 and gate["cv_passed"] == 0, gate  # the out-of-fold bar itself says no
        assert not _pushed(result)
        assert text.startswith("NOT blessed: 5-fold CV over 100 photos") and "63 of 100 right out of fold" in text
        assert "--significance 0.05" in text and "majority rate 0.500" in text
        table.append({"cv_accuracy": gate["cv_correct"] / 100, "seconds": result["seconds"]})
    path = artifacts_dir / "push_rate.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(record | {"shuffled": table}, indent=2))


def test_a_changed_label_set_is_said_and_not_compared(batch, artifacts_dir):
    """Each shuffled run went into a root whose last blessed model (if any) had other labels."""
    for real, result in zip(batch["real"][1 : 1 + SHUFFLED], batch["shuffled"], strict=True):
        if not _pushed(real):
            continue
        # The Evaluator left the last blessed model out (pipeline/evaluator.py), inside the run.
        evaluator = result["runs"]["Evaluator"].output("blessing").properties
        assert "label set changed" in result["verdict"] and evaluator["baseline_model_compared"] == 0
        versions = serving_versions(Path(result["output"]) / "serving" / "tastebud")
        assert len(versions) == 1  # the real set's model, still the one served
    result = batch["shuffled"][0]
    (artifacts_dir / "shuffled_runner_output.txt").write_text(result["verdict"])
    from tastebud.review import build_review, text_summary
    from tastebud.review_html import render

    review = build_review(result["output"])
    bar = compute_bar({"a": 50, "b": 50})
    assert not review.blessed and review.bar.needed_correct == bar.needed_correct == 63
    assert review.cv_correct == result["runs"]["BlessingGate"].output("blessing").properties["cv_correct"]
    assert not review.evaluation.has_baseline_model
    summary = text_summary(review)
    assert "balanced accuracy" in summary and "macro-F1" in summary and "5-fold CV over 100 photos" in summary
    html = render(review)
    assert 'id="bar">0.630<' in html and 'id="bar-majority-rate">0.500<' in html and 'id="cv-accuracy">' in html
