"""Phone photos (issue 12): sideways accuracy before/after, big-JPEG decode time and memory.

./dev python -m bench.phone [--serving DIR] [--quick]

Writes bench/results_phone.json and prints a table. Without --serving it runs the
pipeline on the sample first (efficientnet_lite0, about 2 minutes) for the pushed model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from bench import decode_bench, pipeline_bench, sideways_bench  # noqa: E402
from bench.common import REPO, log, machine_facts, sample_images  # noqa: E402

RESULTS = REPO / "bench" / "results_phone.json"
QUICK_PHOTOS = {"12 MP": decode_bench.PHOTOS["12 MP"]}


def eval_split(data_dir: Path) -> list[tuple[str, str, bytes]]:
    from data.examples import read_examples

    return read_examples([str(p) for p in sorted((data_dir / "eval").glob("*.tfrecord.gz"))])


def _decode_cell(d: dict) -> str:
    return f"{d['seconds']:.2f}" if "seconds" in d else "fails"


def table(r: dict) -> str:
    m = r["machine"]
    lines = [f"commit {m['commit']} · {m['cores']} cores · {m['cpu_model']} · TF {m['tensorflow']} · {m['date']}", ""]
    lines += ["Photos stored sideways with an EXIF tag (6, 8, 3 in turn): accuracy, and labels equal to upright:", ""]
    lines += [
        "| model | photos | upright acc | before acc | after acc | before = upright | after = upright "
        "| re-encoded upright = upright |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in r["sideways"].items():
        lines.append(
            f"| {name} | {s['photos']} | {s['upright']:.3f} | {s['before']:.3f} | {s['after']:.3f} "
            f"| {s['before_agrees']:.3f} | {s['after_agrees']:.3f} | {s['reencoded_agrees']:.3f} |"
        )
    lines += ["", "Decode + resize to 224 x 224 of one phone JPEG (median of 3; peak RSS growth):", ""]
    lines += [
        "| photo | file MB | full decode s | full peak MB | ratio decode s | ratio peak MB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, d in r["decode"].items():
        lines.append(
            f"| {name} ({d['width']}x{d['height']}) | {d['file_mb']:.1f} | {_decode_cell(d['full'])} "
            f"| {d['full']['peak_mb']:.0f} | {_decode_cell(d['ratio'])} | {d['ratio']['peak_mb']:.0f} |"
        )
    failed = [f"{name}: {d['full']['error']}" for name, d in r["decode"].items() if "error" in d["full"]]
    return "\n".join(lines + ["", *(f"full decode failed, {f}" for f in failed)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serving", help="a pushed model's serving dir (skips the pipeline run)")
    parser.add_argument("--data", help="the prepared data dir of that model (for its eval split)")
    parser.add_argument("--quick", action="store_true", help="only the 12-MP photo, for trying the harness")
    args = parser.parse_args(argv)
    results = {"machine": machine_facts()}
    with tempfile.TemporaryDirectory(prefix="tastebud-phone-") as tmp:
        work = Path(tmp)
        if args.serving:
            serving, data = args.serving, Path(args.data)
        else:
            serving, data = pipeline_bench.run_pipeline(work / "pipeline")["serving_dir"], work / "pipeline" / "data"
        results["sideways"] = {
            "pushed model, eval split": sideways_bench.pushed_model(serving, eval_split(data)),
            "probe, 5-fold CV, all photos": sideways_bench.probe(sample_images()),
        }
        log(f"sideways: {results['sideways']}")
        results["decode"] = decode_bench.run(work, QUICK_PHOTOS if args.quick else decode_bench.PHOTOS)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
