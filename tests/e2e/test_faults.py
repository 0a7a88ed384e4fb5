"""Pipeline faults: a run killed mid-Transform, and corrupt bytes that bypass `prepare`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf

from data.prepare import make_example
from pipeline import results
from tests.support.common import REPO, SAMPLE
from tests.support.pipeline_runs import prepare_data, run_pipeline, serving_versions

pytestmark = pytest.mark.slow


def _transform_running(metadata: Path) -> bool:
    if not metadata.exists():
        return False
    try:
        runs = results.component_runs(results.sqlite_store(str(metadata)))
    except Exception:  # the writer holds the database for a moment
        return False
    return runs.get("Transform") is not None and runs["Transform"].state == "RUNNING"


# 30 photos, 2 classes: this test of killing and resuming accepts p < 0.5 (16 of 30 right
# out of fold) so that it never hinges on the untuned head's luck; no Tuner, to keep it short.
QUICK_GATE = ("--significance", "0.5", "--no-tune")


def test_killed_mid_transform_then_rerun_completes_from_cache(tmp_path):
    subset = tmp_path / "photos"
    for label in ("daisy", "roses"):
        (subset / label).mkdir(parents=True)
        for photo in sorted((SAMPLE / label).glob("*.jpg"))[:15]:
            (subset / label / photo.name).write_bytes(photo.read_bytes())
    data, output = prepare_data(subset, tmp_path / "data"), tmp_path / "out"
    command = [
        sys.executable,
        "local_runner.py",
        "--data",
        str(data),
        "--output",
        str(output),
        "--backbone",
        "efficientnet_lite0",
        *QUICK_GATE,
    ]
    victim = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while not _transform_running(output / "metadata.sqlite") and time.monotonic() < deadline:
        assert victim.poll() is None, "the pipeline ended before Transform started"
        time.sleep(0.2)
    time.sleep(1.0)  # well inside Transform
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert not serving_versions(output / "serving" / "tastebud")

    runs, _ = run_pipeline(data, output, "--backbone", "efficientnet_lite0", *QUICK_GATE)
    assert runs["ImportExampleGen"].state == "CACHED"  # finished before the kill: reused
    assert runs["Transform"].state == "COMPLETE"
    assert runs["Pusher"].output("pushed_model").properties["pushed"] == 1


def test_corrupt_bytes_reaching_transform_fail_loudly_and_push_nothing(tmp_path):
    """A hand-made TFRecord with one undecodable image: the run stops in Transform with a clear
    error and a non-zero exit; no model is pushed. (`prepare` never writes such a record.)"""
    photos = sorted(SAMPLE.glob("*/*.jpg"))[:12]
    for split, chosen in (("train", photos[:10]), ("eval", photos[10:])):
        (tmp_path / "data" / split).mkdir(parents=True)
        with tf.io.TFRecordWriter(str(tmp_path / "data" / split / "data.tfrecord.gz"), options="GZIP") as writer:
            for photo in chosen:
                writer.write(make_example(str(photo), photo.parent.name, photo.read_bytes()))
            if split == "train":
                writer.write(make_example("/corrupt.jpg", "daisy", b"\xff\xd8\xff\xe0 this is not really a jpeg"))
    (tmp_path / "data" / "dict.txt").write_text("daisy\ndandelion\n")
    proc = subprocess.run(
        [
            sys.executable,
            "local_runner.py",
            "--data",
            str(tmp_path / "data"),
            "--output",
            str(tmp_path / "out"),
            "--backbone",
            "efficientnet_lite0",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 1
    assert "the pipeline failed in Transform" in proc.stderr
    assert "does not decode" in proc.stderr and "tastebud prepare" in proc.stderr
    assert not serving_versions(tmp_path / "out" / "serving" / "tastebud")
