"""Running the project's commands as the README runs them: prepare, the local pipeline, and
reading what they wrote (the pushed versions, the eval split)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.common import REPO


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
