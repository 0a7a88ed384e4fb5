"""Time to model, as a user feels it: photos in a folder -> a pushed SavedModel.

    ./dev python -m bench.time_to_model [--photos 550] [--scale-photos 2200]

Side by side in one run, on the same photos like users' photos (bench/user_photos.py: the
bundled sample at 512-1024 px, JPEG quality 90; 10 classes: each flower in colour and in
grey), each as its own process as a user would run it:
  * tastebud: `tastebud prepare FOLDER` then `local_runner.py --backbone
    efficientnet_lite0` (fresh pipeline root), with the Tuner (the default) and, for
    reference, with --no-tune (the same head as the script);
  * bench/keras_script.py: a plain Keras script with the same backbone and head, run
    before, between and after the two tastebud runs: each tastebud run is compared with the
    mean of the script's runs just before and just after it.
`scale` does the same at 2,200 photos for the default run alone (the script before and after).
Per-component seconds come from ML Metadata (pipeline/results.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, log
from bench.user_photos import describe, write_photos
from preprocessing.contract import SAVED_MODEL_FILE


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
    pushed = sorted((out / "serving" / "tastebud").glob(f"*/{SAVED_MODEL_FILE}"))
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


def _yardstick(before: dict, after: dict) -> dict:
    return {"total_s": statistics.mean([before["total_s"], after["total_s"]]), "before": before, "after": after}


def _side_by_side(folder: Path, work: Path, tunes: list[bool]) -> list[tuple[dict, dict]]:
    """The script, then each tastebud run (Tuner on or off) followed by the script again:
    [(tastebud run, the mean of the script just before and just after it)]. This machine's
    speed drifts by tens of percent within minutes, and one script run on one side of the
    pipeline's run moved the ratio by up to 0.9."""
    scripts = [keras_run(folder, work / "keras_0")]
    runs = []
    for i, tune in enumerate(tunes, 1):
        runs.append(tastebud_run(folder, work / f"tastebud_{i}", tune=tune))
        scripts.append(keras_run(folder, work / f"keras_{i}"))
    return [(run, _yardstick(scripts[i], scripts[i + 1])) for i, run in enumerate(runs)]


def run(work: Path, photos: int = 550) -> dict:
    """The time-to-model section of bench/results.json: the script, --no-tune, the script,
    the default run, the script. keras_script is the default run's yardstick (the headline,
    default_vs_keras), keras_script_no_tune the --no-tune run's."""
    folder = work / "photos"
    stats = write_photos(folder, photos)
    log(f"time to model: {describe(stats)}")
    (no_tune, keras_no_tune), (tuned, keras) = _side_by_side(folder, work, [False, True])
    result = {
        "photos": photos,
        "classes": stats["classes"],
        "photo_stats": stats,
        "keras_script": keras,
        "keras_script_no_tune": keras_no_tune,
        "tastebud_no_tune": no_tune,
        "tastebud_default": tuned,
        "default_vs_keras": tuned["total_s"] / keras["total_s"],
        "no_tune_vs_keras": no_tune["total_s"] / keras_no_tune["total_s"],
    }
    log(
        f"time to model, {photos} photos: default {tuned['total_s']:.1f} s against the script's "
        f"{keras['before']['total_s']:.1f} / {keras['after']['total_s']:.1f} s ({result['default_vs_keras']:.2f}x); "
        f"--no-tune {no_tune['total_s']:.1f} s against {keras_no_tune['before']['total_s']:.1f} / "
        f"{keras_no_tune['after']['total_s']:.1f} s ({result['no_tune_vs_keras']:.2f}x); "
        f"components (default) {tuned['components_s']}"
    )
    return result


def scale(work: Path, photos: int = 2200) -> dict:
    """The scale row (time_to_model_scale): the script, the default run, the script."""
    folder = work / "photos"
    stats = write_photos(folder, photos)
    log(f"time to model at scale: {describe(stats)}")
    [(tuned, keras)] = _side_by_side(folder, work, [True])
    result = {
        "photos": photos,
        "classes": stats["classes"],
        "photo_stats": stats,
        "keras_script": keras,
        "tastebud_default": tuned,
        "default_vs_keras": tuned["total_s"] / keras["total_s"],
    }
    log(
        f"time to model, {photos} photos: default {tuned['total_s']:.1f} s against the script's "
        f"{keras['before']['total_s']:.1f} / {keras['after']['total_s']:.1f} s ({result['default_vs_keras']:.2f}x)"
    )
    return result


def drop_serving_dirs(*sections: dict) -> str:
    """Removes every run's serving_dir (a temporary path) from the sections; returns the first
    section's --no-tune model's (the one the serving rows use), or its default model's."""
    first = sections[0].get("tastebud_no_tune", sections[0]["tastebud_default"])["serving_dir"]
    for section in sections:
        for key in ("tastebud_no_tune", "tastebud_default"):
            section.get(key, {}).pop("serving_dir", None)
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=550)
    parser.add_argument("--scale-photos", type=int, default=0, help="also the scale row at this many (e.g. 2200)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tastebud-ttm-") as tmp:
        result = {"time_to_model": run(Path(tmp) / "main", args.photos)}
        if args.scale_photos:
            result["time_to_model_scale"] = scale(Path(tmp) / "scale", args.scale_photos)
    drop_serving_dirs(*result.values())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
