"""End to end: `tastebud prepare` then local_runner.py, the real TFX pipeline on real data.

Runs the README's commands as subprocesses (LocalDagRunner, SQLite ML Metadata, Beam
DirectRunner), then checks ML Metadata, TFMA's output and the pushed SavedModel.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from pipeline.evaluation import summarize
from tests.support.common import REPO
from tests.support.pipeline_runs import eval_examples, prepare_data, run_pipeline, serving_versions

pytestmark = pytest.mark.slow


def test_lite0_pipeline_blesses_and_pushes_an_accurate_model(flowers, artifacts_dir):
    runs = flowers["first"]
    assert [r.state for r in runs.values()] == ["COMPLETE"] * len(runs), {k: r.state for k, r in runs.items()}
    assert runs["Evaluator"].output("blessing").properties["blessed"] == 1
    gate = runs["BlessingGate"].output("blessing").properties
    assert (gate["blessed"], gate["cv_passed"], gate["holdout_passed"], gate["cv_count"]) == (1, 1, 1, 200)
    labels = (flowers["data"] / "dict.txt").read_text().split()
    summary = summarize(runs["Evaluator"].output("evaluation").uri, labels)
    assert summary.example_count == 20
    assert summary.accuracy >= 0.80, summary.text()
    pushed = runs["Pusher"].output("pushed_model")
    assert pushed.properties["pushed"] == 1
    assert flowers["versions_after_first"] == [Path(pushed.properties["pushed_destination"]).name]
    trainer_logs = Path(runs["Trainer"].output("model_run").uri)
    assert list(trainer_logs.rglob("events.out.tfevents.*")), "no TensorBoard logs"
    from data.health import COLUMNS, ISSUES

    report = Path(runs["DataHealth"].output("report").uri)
    assert (report / "data_health.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    health = json.loads((report / "data_health.json").read_text())
    assert health["photos"] == 200 and set(health["counts"]) <= set(ISSUES), health
    times = {k: round(r.seconds, 1) for k, r in runs.items()}
    (artifacts_dir / "e2e_lite0_times.json").write_text(
        json.dumps(
            {
                "first_run_components_s": times,
                "first_run_wall_s": round(flowers["first_seconds"], 1),
                "second_run_wall_s": round(flowers["second_seconds"], 1),
                "accuracy": summary.accuracy,
            },
            indent=2,
        )
    )


def test_out_of_fold_artefact_holds_every_labelled_photo_once(flowers):
    """The OutOfFold artefact: each photo of both splits, its label and five scores from the fold that left it out."""
    from models import out_of_fold

    runs = flowers["first"]
    predictions = out_of_fold.read(runs["OutOfFold"].output("predictions").uri)
    raw = {key: label for key, label, _ in eval_examples(flowers["data"])}
    raw |= {key: label for key, label, _ in _train_examples(flowers["data"])}
    labels = (flowers["data"] / "dict.txt").read_text().split()
    assert sorted(predictions.keys) == sorted(raw) and len(predictions.keys) == 200
    assert [labels[i] for i in predictions.labels] == [raw[k] for k in predictions.keys]
    assert predictions.scores.shape == (200, 5) and np.allclose(predictions.scores.sum(axis=1), 1, atol=1e-4)
    assert sorted(np.bincount(predictions.folds)) == [40] * 5
    assert predictions.correct == runs["BlessingGate"].output("blessing").properties["cv_correct"]
    assert predictions.correct / 200 >= 0.75


def _train_examples(data: Path) -> list[tuple[str, str, bytes]]:
    from data.examples import read_examples

    return read_examples([str(p) for p in sorted((data / "train").glob("*.tfrecord.gz"))])


def test_pushed_saved_model_alone_labels_unseen_jpeg_bytes(flowers):
    """Loads only the pushed SavedModel (no project code) and feeds it raw eval-split JPEGs."""
    serving = flowers["output"] / "serving" / "tastebud"
    model = tf.saved_model.load(str(serving / serving_versions(serving)[-1]))
    rows = eval_examples(flowers["data"])
    out = model.signatures["serving_default"](
        image_bytes=tf.constant([r[2] for r in rows]), key=tf.constant([r[0] for r in rows])
    )
    predicted = [b.decode() for b in out["label"].numpy()]
    truth = [r[1] for r in rows]
    assert [k.decode() for k in out["key"].numpy()] == [r[0] for r in rows]
    np.testing.assert_allclose(out["scores"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out["score"].numpy(), out["scores"].numpy().max(axis=1))
    assert np.mean(np.array(predicted) == np.array(truth)) >= 0.8


def test_pushed_model_equals_the_keras_backbone_then_the_head(flowers):
    """The serving graph (traced, frozen backbone; decoding traced once) gives the scores of
    the reference path: the same decoding, the Keras feature extractor with its variables,
    then the pushed head. Embeddings and scores agree to 1e-5 on the eval photos."""
    from preprocessing.backbones import get_backbone
    from preprocessing.embedding_cache import without_cache
    from preprocessing.images import embed_in_chunks

    serving = flowers["output"] / "serving" / "tastebud"
    model = tf.saved_model.load(str(serving / serving_versions(serving)[-1]))
    images = tf.constant([r[2] for r in eval_examples(flowers["data"])])
    backbone = get_backbone("efficientnet_lite0")
    keras_extractor = backbone.build_feature_extractor()
    reference = embed_in_chunks(images, backbone.input_size, keras_extractor, 8, backbone.embedding_size)
    raw_spec = {"content_key": None, "cached_embedding": None}  # the transform graph's cache inputs
    served = model.tft_layer(without_cache(images, raw_spec))["embedding"]
    np.testing.assert_allclose(served.numpy(), reference.numpy(), atol=1e-5, rtol=0)
    scores = model.signatures["serving_default"](image_bytes=images, key=tf.constant([""] * len(images)))["scores"]
    np.testing.assert_allclose(scores.numpy(), model(reference, training=False).numpy(), atol=1e-5, rtol=0)


def test_second_run_on_unchanged_data_reuses_the_embeddings(flowers):
    second = flowers["second"]
    for node in ("ImportExampleGen", "Transform", "Trainer"):
        assert second[node].state == "CACHED", {k: r.state for k, r in second.items()}
    first_transform = flowers["first"]["Transform"].output("transformed_examples").uri
    assert second["Transform"].output("transformed_examples").uri == first_transform
    print(f"first run {flowers['first_seconds']:.1f} s, cached re-run {flowers['second_seconds']:.1f} s")
    assert flowers["second_seconds"] < flowers["first_seconds"]


def test_model_trained_on_shuffled_labels_is_not_blessed_nor_pushed(flowers, tmp_path):
    """Same pipeline root (so the blessed model is the baseline), labels randomly permuted."""
    sample = REPO / "data" / "flowers_small"
    rows = [(str(p), p.parent.name) for p in sorted(sample.glob("*/*.jpg"))]
    labels = [label for _, label in rows]
    random.Random(7).shuffle(labels)
    with open(tmp_path / "shuffled.csv", "w", newline="") as f:
        csv.writer(f).writerows((path, label) for (path, _), label in zip(rows, labels, strict=True))
    data = prepare_data(tmp_path / "shuffled.csv", tmp_path / "data")
    serving = flowers["output"] / "serving" / "tastebud"
    before = serving_versions(serving)
    runs, _ = run_pipeline(data, flowers["output"], "--backbone", "efficientnet_lite0")
    gate = runs["BlessingGate"].output("blessing").properties
    assert gate["blessed"] == 0 and gate["cv_passed"] == 0, gate  # the out-of-fold bar itself says no
    # Same labels: the resolver found the model the gate blessed, and TFMA compared with it.
    labels = (data / "dict.txt").read_text().split()
    assert summarize(runs["Evaluator"].output("evaluation").uri, labels).has_baseline_model
    assert runs["Pusher"].output("pushed_model").properties.get("pushed", 0) == 0
    assert serving_versions(serving) == before


def test_inception_v3_with_a_local_weights_file_runs_end_to_end(inception):
    """Inception-v3 (random weights from a local file) through the whole pipeline; see
    the `inception` fixture. tests/e2e/test_serving_runtimes.py serves its pushed model."""
    runs = inception["runs"]
    assert all(r.state == "COMPLETE" for r in runs.values()), {k: r.state for k, r in runs.items()}
    transformed = tf.io.gfile.glob(runs["Transform"].output("transformed_examples").uri + "/Split-train/*")
    record = next(iter(tf.data.TFRecordDataset(transformed, compression_type="GZIP")))
    embedding = tf.train.Example.FromString(record.numpy()).features.feature["embedding"].float_list.value
    assert len(embedding) == 2048
    assert runs["Pusher"].output("pushed_model").properties["pushed"] == 1


def test_inception_without_weights_fails_before_any_work(tmp_path):
    proc = subprocess.run(
        [sys.executable, "local_runner.py", "--data", str(tmp_path), "--output", str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_HOME": str(tmp_path / "no_keras"), "TASTEBUD_INCEPTION_WEIGHTS": ""},
    )
    assert proc.returncode == 2
    assert "efficientnet_lite0" in proc.stderr and "TASTEBUD_INCEPTION_WEIGHTS" in proc.stderr
    assert not (tmp_path / "out").exists()
