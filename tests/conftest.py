"""Shared fixtures. Tests run through ./dev (make test), inside the project's environment.

The slow fixture `flowers` runs the real pipeline once per session on the bundled
sample; the end-to-end, query and web tests all use its pushed model.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "flowers_small"
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and reports kept from test runs
MODEL_NAME = "tastebud"
# Debian's headless Chromium, driven by Playwright (the browser tests)
CHROMIUM = os.environ.get("TASTEBUD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_python(*args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def prepare_data(source: Path | str, out: Path) -> Path:
    run_python("-m", "tastebud", "prepare", str(source), "--out", str(out))
    return out


def sample_subset(sample: Path, out: Path, labels: tuple[str, ...], per_class: int) -> Path:
    """A photo folder of the first `per_class` photos of each of `labels` from the sample."""
    for label in labels:
        (out / label).mkdir(parents=True)
        for photo in sorted((sample / label).glob("*.jpg"))[:per_class]:
            (out / label / photo.name).write_bytes(photo.read_bytes())
    return out


def run_pipeline(data: Path, output: Path, *extra: str) -> tuple[dict, float]:
    """local_runner.py as the README runs it; returns this run's components from ML Metadata."""
    runs, elapsed, _ = run_pipeline_with_output(data, output, *extra)
    return runs, elapsed


def run_pipeline_with_output(data: Path, output: Path, *extra: str) -> tuple[dict, float, str]:
    """run_pipeline, plus what local_runner.py printed (its summary and the blessing explanation)."""
    from pipeline import results

    started = time.monotonic()
    proc = run_python("local_runner.py", "--data", str(data), "--output", str(output), *extra)
    elapsed = time.monotonic() - started
    return results.component_runs(results.sqlite_store(str(output / "metadata.sqlite"))), elapsed, proc.stdout


def serving_versions(serving: Path) -> list[str]:
    return sorted(p.name for p in serving.iterdir()) if serving.exists() else []


def eval_examples(data: Path, split: str = "eval") -> list[tuple[str, str, bytes]]:
    """(key, label, image bytes) of the eval split (photos the model never trained on), or of `split`."""
    from data.examples import read_examples

    return read_examples([str(p) for p in sorted((data / split).glob("*.tfrecord.gz"))])


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
    """The flowers model in tests/tf_serving_standin.py, once per serving runtime:
    TF Serving's TensorFlow and the Vertex image's (tests/serving_runtimes.py)."""
    from tests.serving_runtimes import TF_SERVING, serving, vertex_runtime

    version = TF_SERVING if request.param == "tf_serving" else vertex_runtime()
    with serving(version, MODEL_NAME, flowers["serving"]) as server:
        yield server


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; make setup installs Debian's chromium into the environment")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def phone(browser):
    """Chromium's device emulation of a 390 x 844 phone screen (CSS pixels, 3x density, touch)."""
    return browser.new_page(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
