"""The end-to-end tier's fixtures: real pipeline runs, once per session.

`flowers` runs the real pipeline on the bundled sample (`make demo`, then local_runner.py
again); the end-to-end, query and web tests all use its pushed model. `inception` runs it
with Inception-v3; `standin` serves the flowers model in TF Serving's stand-in.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.common import MODEL_NAME, REPO
from tests.support.pipeline_runs import prepare_data, run_pipeline, sample_subset, serving_versions


@pytest.fixture(scope="session")
def flowers(tmp_path_factory) -> dict:
    """`make demo` (python -m tastebud.demo: prepare the bundled sample, the pipeline with
    efficientnet_lite0 and --tflite, predictions, a review), then local_runner.py again on the
    same data (without --tflite; Transform, Trainer and Evaluator cached). `demo_output`: what
    the demo printed, stdout and stderr together."""
    from pipeline import results

    root = tmp_path_factory.mktemp("e2e")
    output = root / "out"
    started = time.monotonic()
    demo = subprocess.run(
        [sys.executable, "-m", "tastebud.demo", "--out", str(output)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1500,
    )
    first_seconds = time.monotonic() - started
    assert demo.returncode == 0, demo.stdout[-5000:]
    data = output / "data"
    first = results.component_runs(results.sqlite_store(str(output / "metadata.sqlite")))
    versions_after_first = serving_versions(output / "serving" / MODEL_NAME)
    second, second_seconds = run_pipeline(data, output, "--backbone", "efficientnet_lite0")
    return dict(
        data=data,
        output=output,
        serving=output / "serving" / MODEL_NAME,
        first=first,
        second=second,
        first_seconds=first_seconds,
        second_seconds=second_seconds,
        versions_after_first=versions_after_first,
        latest_version=serving_versions(output / "serving" / MODEL_NAME)[-1],
        demo_output=demo.stdout,
    )


@pytest.fixture(scope="session")
def inception(tmp_path_factory, sample_dir) -> dict:
    """Inception-v3 through the whole pipeline, from a weights file written here.

    The file holds random weights (genuine ImageNet weights cannot be downloaded here),
    which exercises the loading path; the blessing bar is lowered (--significance 0.99: 14 of
    the 40 photos right out of fold passes) so it can be pushed, and the Tuner is skipped
    (--no-tune: the untuned Trainer path). 20 daisy and 20 tulip photos, 50 training steps."""
    import tf_keras

    root = tmp_path_factory.mktemp("inception")
    weights = root / "inception_v3_notop.h5"
    tf_keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg").save_weights(str(weights))
    data = prepare_data(sample_subset(sample_dir, root / "photos", ("daisy", "tulips"), 20), root / "data")
    flags = ["--backbone", "inception_v3", "--backbone-weights", str(weights), "--train-steps", "50"]
    runs, _ = run_pipeline(data, root / "out", *flags, "--no-tune", "--significance", "0.99")
    return dict(runs=runs, data=data, serving=root / "out" / "serving" / MODEL_NAME)


@pytest.fixture(scope="session", params=["tf_serving", "vertex"])
def standin(request, flowers):
    """The flowers model in tests/support/tf_serving_standin.py, once per serving runtime:
    TF Serving's TensorFlow and the Vertex image's (tests/support/serving_runtimes.py)."""
    from tests.support.serving_runtimes import TF_SERVING, serving, vertex_runtime

    version = TF_SERVING if request.param == "tf_serving" else vertex_runtime()
    with serving(version, MODEL_NAME, flowers["serving"]) as server:
        yield server
