"""Time to model, as a user feels it: photos in a folder -> a pushed SavedModel.

    ./dev python -m bench.time_to_model [--photos 550]

Side by side in one run, on the same generated photos (variants of the bundled sample,
10 classes: each flower in colour and in grey), each as its own process as a user
would run it:
  * tastebud: `tastebud prepare FOLDER` then `local_runner.py --backbone
    efficientnet_lite0` (fresh pipeline root), once with the Tuner (the default) and
    once with --no-tune (the same head as the script);
  * bench/keras_script.py: a plain Keras script with the same backbone and head, run
    just before and just after tastebud --no-tune; the ratio is against their mean.
Per-component seconds come from ML Metadata (pipeline/results.py).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, log, variants


def write_photos(folder: Path, count: int) -> int:
    """`count` JPEGs under folder/<class>/: 5 flowers x {colour, grey}."""
    from PIL import Image

    for index, (_, label, data) in enumerate(variants(count, seed=7)):
        grey = index % 2 == 1
        target = folder / (f"{label}_grey" if grey else label) / f"{index:05d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        if grey:
            with Image.open(io.BytesIO(data)) as image:
                image.convert("L").convert("RGB").save(target, format="JPEG", quality=90)
        else:
            target.write_bytes(data)
    return count


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - start, done.stdout


def tastebud_run(folder: Path, work: Path, tune: bool) -> dict:
    """prepare + local_runner.py; seconds of each, and each component's seconds."""
    from pipeline import results

    data, out = work / "data", work / "out"
    prepare_s, _ = _timed([sys.executable, "-m", "tastebud", "prepare", str(folder), "--out", str(data)])
    command = [sys.executable, "local_runner.py", "--data", str(data), "--output", str(out)]
    command += ["--backbone", "efficientnet_lite0"] + ([] if tune else ["--no-tune"])
    pipeline_s, _ = _timed(command)
    pushed = sorted((out / "serving" / "tastebud").glob("*/saved_model.pb"))
    runs = results.component_runs(results.sqlite_store(str(out / "metadata.sqlite")))
    return {
        "prepare_s": prepare_s,
        "pipeline_s": pipeline_s,
        "total_s": prepare_s + pipeline_s,
        "components_s": {name: round(run.seconds, 2) for name, run in runs.items()},
        # interpreter start, imports, the LocalDagRunner and ML Metadata between components
        "outside_components_s": pipeline_s - sum(run.seconds for run in runs.values()),
        "pushed": bool(pushed),
        "serving_dir": str(out / "serving" / "tastebud"),
    }


def keras_run(folder: Path, work: Path) -> dict:
    seconds, stdout = _timed([sys.executable, "-m", "bench.keras_script", str(folder), "--out", str(work / "model")])
    return {"total_s": seconds, **json.loads(stdout.strip().splitlines()[-1])}


def run(work: Path, photos: int = 550) -> dict:
    """The time-to-model section of bench/results.json."""
    folder = work / "photos"
    write_photos(folder, photos)
    # The script runs just before and just after the --no-tune run, and the ratio takes the
    # mean of the two: this machine's speed drifts by tens of percent within minutes, and
    # one script run on one side of the pipeline's run moved the ratio by up to 0.9.
    before = keras_run(folder, work / "keras_before")
    no_tune = tastebud_run(folder, work / "no_tune", tune=False)
    after = keras_run(folder, work / "keras_after")
    keras = {"total_s": statistics.mean([before["total_s"], after["total_s"]]), "before": before, "after": after}
    tuned = tastebud_run(folder, work / "tuned", tune=True)
    result = {
        "photos": photos,
        "classes": 10,
        "keras_script": keras,
        "tastebud_no_tune": no_tune,
        "tastebud_default": tuned,
        "no_tune_vs_keras": no_tune["total_s"] / keras["total_s"],
        "default_vs_keras": tuned["total_s"] / keras["total_s"],
    }
    log(
        f"time to model, {photos} photos: keras {keras['total_s']:.1f} s "
        f"(mean of {before['total_s']:.1f} and {after['total_s']:.1f} s), "
        f"tastebud --no-tune {no_tune['total_s']:.1f} s ({result['no_tune_vs_keras']:.2f}x), "
        f"default {tuned['total_s']:.1f} s ({result['default_vs_keras']:.2f}x); "
        f"components (--no-tune) {no_tune['components_s']}"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=550)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tastebud-ttm-") as tmp:
        result = run(Path(tmp), args.photos)
    result["tastebud_no_tune"].pop("serving_dir")
    result["tastebud_default"].pop("serving_dir")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
