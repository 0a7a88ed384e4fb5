"""Embedding reuse (issue 28): what a second run after adding 10% photos pays for Transform.

    ./dev python -m bench.reuse_bench [--photos 2200] [--rounds 2] [--out FILE]

Photos like users' (bench/user_photos.py). Each run is the pipeline up to Transform
(create_pipeline's ImportExampleGen -> ImportSchemaGen -> EmbeddingCache -> Transform, on
the local runner's settings, EfficientNet-Lite0), in its own process; its "Transform stage"
is EmbeddingCache + Transform, from ML Metadata, and Transform alone is reported beside it.
Per round, side by side:
  * fixed:    100 photos from scratch (the stage's fixed cost, which this issue need not cut);
  * base:     the first 91% of the photos from scratch (2,000 of 2,200);
  * grown:    all the photos (+10%) in base's output folder: only the new photos embedded;
  * scratch:  all the photos in a fresh folder: every photo embedded.
Goals: grown <= 0.5 x scratch; grown - fixed <= 0.2 x (scratch - fixed). Peak RSS per run too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, log, machine_facts, run_with_peak_rss
from bench.user_photos import write_photos

RESULTS = REPO / "bench" / "results_reuse.json"
FIXED_PHOTOS = 100
GROWTH = 0.10


def until_transform(data: str, output: str) -> None:
    """The pipeline up to Transform on DATA_DIR `data`, into `output` (as local_runner.py sets it up)."""
    from pipeline import local_run
    from tastebud import quiet

    quiet.configure(verbose=False)
    local_run.run(
        local_run.parse_args(["--data", data, "--output", output, "--backbone", "efficientnet_lite0", "--no-tune"]),
        last="Transform",
    )


def stage(folder: Path, data: Path, output: Path) -> dict:
    """prepare (not timed) + the pipeline up to Transform in a fresh process: seconds and reuse."""
    from pipeline import results
    from pipeline.embedding_cache import OUTPUT_KEY
    from tastebud.cli import main as tastebud

    if data.exists():
        shutil.rmtree(data)
    assert tastebud(["prepare", str(folder), "--out", str(data)]) == 0
    command = [sys.executable, "-m", "bench.reuse_bench", "--stage", str(data), str(output)]
    process_s, peak, _ = run_with_peak_rss(command)
    runs = results.component_runs(results.sqlite_store(str(output / "metadata.sqlite")))
    joined = runs["EmbeddingCache"].output(OUTPUT_KEY).properties
    row = {
        "cache_s": runs["EmbeddingCache"].seconds,
        "transform_s": runs["Transform"].seconds,
        "process_s": process_s,
        "peak_rss_mb": peak / 2**20,
        **{k: joined[k] for k in ("photos", "embedded", "reused")},
    }
    row["stage_s"] = row["cache_s"] + row["transform_s"]
    log(f"reuse bench {output.name}: {json.dumps({k: round(v, 1) for k, v in row.items()})}")
    return row


def run(work: Path, photos: int = 2200) -> dict:
    """One round (also bench.run's `reuse` section): the four runs and the two ratios."""
    everything = work / "all"
    write_photos(everything, photos)
    files = sorted(everything.glob("*/*.jpg"), key=lambda p: p.name)  # NNNNN.jpg: the classes in turn
    base_folder, small = work / "base", work / "small"
    base_count = round(photos / (1 + GROWTH))
    for i, path in enumerate(files):
        for folder, limit in ((base_folder, base_count), (small, FIXED_PHOTOS)):
            if i < limit:
                (folder / path.parent.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, folder / path.parent.name / path.name)
    rows = {
        "fixed": stage(small, work / "data_small", work / "out_small"),
        "base": stage(base_folder, work / "data_base", work / "out"),
        "grown": stage(everything, work / "data_all", work / "out"),
        "scratch": stage(everything, work / "data_all", work / "out_scratch"),
    }
    fixed, grown, scratch = rows["fixed"]["stage_s"], rows["grown"]["stage_s"], rows["scratch"]["stage_s"]
    rows["grown_vs_scratch"] = grown / scratch
    rows["above_fixed_vs_scratch"] = (grown - fixed) / (scratch - fixed)
    rows["transform_only_grown_vs_scratch"] = rows["grown"]["transform_s"] / rows["scratch"]["transform_s"]
    rows["goals_hold"] = rows["grown_vs_scratch"] <= 0.5 and rows["above_fixed_vs_scratch"] <= 0.2
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=2200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--stage", nargs=2, metavar=("DATA", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        until_transform(*args.stage)
        return 0
    result = {"machine": machine_facts(), "photos": args.photos, "rounds": []}
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="tastebud-reuse-") as tmp:
            result["rounds"].append(run(Path(tmp), args.photos))
        r = result["rounds"][-1]
        log(f"round {i + 1}: grown/scratch {r['grown_vs_scratch']:.3f}, above fixed {r['above_fixed_vs_scratch']:.3f}")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
