"""`make bench`: every figure side by side in one run, written to bench/results.json.

./dev python -m bench.run [--quick] [--photos 550] [--scale-photos 2200] [--out FILE]

--quick: small sizes everywhere, for trying the harness (its results go to
bench/results/quick.json, which git ignores, unless --out says otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from bench import (  # noqa: E402
    backbone_bench,
    batch_bench,
    reuse_bench,
    serving_bench,
    tflite_bench,
    time_to_model,
    transform_bench,
)
from bench.common import REPO, log, machine_facts, run_with_peak_rss, sample_images, variants, write_examples  # noqa: E402
from bench.goals import fixed_costs, goal_values, goals  # noqa: E402

LABELS = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
RESULTS = REPO / "bench" / "results.json"
QUICK_RESULTS = REPO / "bench" / "results" / "quick.json"


def transform_run(examples: Path, backbone: str) -> tuple[float, float, int]:
    """bench.transform_bench in a fresh process: (Transform's own seconds, from building the
    Beam pipeline to its end, as a pipeline run pays them; the process's seconds, with
    interpreter start and imports; its peak RSS in bytes)."""
    command = [sys.executable, "-m", "bench.transform_bench", "--examples", str(examples), "--backbone", backbone]
    process_s, peak, stdout = run_with_peak_rss(command)
    return json.loads(stdout.strip().splitlines()[-1])["seconds"], process_s, peak


def throughput_section(
    work: Path, backbone: str, images: list, naive_images: int, limit_rounds: int, limit_seconds: float
) -> dict:
    """(1)-(4) for one backbone, on the same images ((4) on the first naive_images of them);
    the limit from limit_rounds round-robin timings of limit_seconds per batch size."""
    examples = write_examples(images, work / f"{backbone}.tfrecord.gz")
    photos = [d for _, _, d in images]
    limit = backbone_bench.backbone_limit(backbone, limit_seconds, limit_rounds, encoded=photos)
    tfdata = backbone_bench.decode_resize_embed(backbone, photos)
    seconds, process_s, _ = transform_run(examples, backbone)
    transform_rate = len(images) / seconds
    naive = [d for _, _, d in images[:naive_images]]
    naive_rate = len(naive) / transform_bench.run_naive(naive, backbone)["seconds"]
    log(f"{backbone}: transform {transform_rate:.1f}/s, naive {naive_rate:.1f}/s")
    return {
        "images": len(images),
        "limit_images_per_s": limit["images_per_s"],
        "limit_best_batch": limit["best_batch"],
        "limit_by_batch": limit["by_batch"],
        "tf_data_images_per_s": tfdata["images_per_s"],
        "decode_embed_images_per_s": limit["decode_embed_images_per_s"],
        "decode_embed_vs_limit": limit["decode_embed_images_per_s"] / limit["images_per_s"],
        "transform_images_per_s": transform_rate,
        "transform_seconds": seconds,
        "transform_process_seconds": process_s,
        "naive_images_per_s": naive_rate,
        "transform_vs_limit": transform_rate / limit["images_per_s"],
        "transform_vs_naive": transform_rate / naive_rate,
        "tf_data_vs_limit": tfdata["images_per_s"] / limit["images_per_s"],
    }


def scaling_section(work: Path, sizes: list[int]) -> dict:
    rows = {}
    for n in sizes:
        examples = write_examples(variants(n, seed=n), work / f"scale_{n}.tfrecord.gz")
        seconds, process_s, peak = transform_run(examples, "efficientnet_lite0")
        rows[str(n)] = {
            "seconds": seconds,
            "process_seconds": process_s,
            "images_per_s": n / seconds,
            "peak_rss_mb": peak / 2**20,
        }
        log(f"scaling {n}: {seconds:.1f} s, {n / seconds:.1f} images/s, peak RSS {peak / 2**20:.0f} MB")
    ns = sorted(rows, key=int)
    marginal = [(rows[b]["seconds"] - rows[a]["seconds"]) / (int(b) - int(a)) for a, b in zip(ns, ns[1:], strict=False)]
    result = {"runs": rows, "marginal_s_per_image": marginal}
    if len(marginal) >= 2:
        result["marginal_ratio"] = marginal[-1] / marginal[0]
    if "1000" in rows and "5000" in rows:
        result["rss_growth_1000_to_5000"] = rows["5000"]["peak_rss_mb"] / rows["1000"]["peak_rss_mb"] - 1
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for trying the harness")
    parser.add_argument("--photos", type=int, help="time to model's photos (default 550; --quick 100)")
    parser.add_argument("--scale-photos", type=int, help="the scale row's photos (default 2200; --quick 200)")
    parser.add_argument("--out", type=Path, help=f"results file (default {RESULTS.relative_to(REPO)})")
    args = parser.parse_args(argv)
    photos = args.photos or (100 if args.quick else 550)
    scale_photos = args.scale_photos or (200 if args.quick else 2200)
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    results = {"machine": machine_facts()}
    with tempfile.TemporaryDirectory(prefix="tastebud-bench-") as tmp:
        work = Path(tmp)
        sample = sample_images()
        # Lite0's limit is the yardstick of issue 14's Transform goals: three rounds. Inception's
        # only anchors its own row, and one round of its batch 64 takes a minute: one round.
        results["throughput"] = {
            "efficientnet_lite0": throughput_section(
                work, "efficientnet_lite0", variants(200 if args.quick else 1000), 100 if args.quick else 250, 3, 2.0
            ),
            "inception_v3": throughput_section(work, "inception_v3", sample[:64] if args.quick else sample, 64, 1, 4.0),
        }
        results["time_to_model"] = time_to_model.run(work / "time_to_model", photos)
        results["time_to_model_scale"] = time_to_model.scale(work / "time_to_model_scale", scale_photos)
        results["scaling"] = scaling_section(work, [50, 200, 400] if args.quick else [100, 1000, 5000])
        results["reuse"] = reuse_bench.run(work / "reuse", 330 if args.quick else 2200)
        steady = 1 / results["scaling"]["marginal_s_per_image"][-1]
        lite = results["throughput"]["efficientnet_lite0"]
        lite["transform_steady_images_per_s"] = steady
        lite["transform_steady_vs_limit"] = steady / lite["limit_images_per_s"]
        lite["transform_steady_vs_decode_embed"] = steady / lite["decode_embed_images_per_s"]
        results["fixed_costs"] = fixed_costs(results)
        serving_dir = Path(time_to_model.drop_serving_dirs(results["time_to_model"], results["time_to_model_scale"]))
        image = sample[0][2]
        in_process = serving_bench.in_process(serving_dir, image)
        raw = serving_bench.raw_keras(serving_dir, "efficientnet_lite0", image)
        results["serving"] = {
            "in_process": in_process,
            "raw_keras": raw,
            "web": serving_bench.web_batching(
                serving_dir, image, **({"open_seconds": 5, "open_min": 100} if args.quick else {})
            ),
            "in_process_p50_vs_raw": in_process["p50_ms"] / raw["p50_ms"],
        }
        results["batch"] = batch_bench.run(str(serving_dir), 200 if args.quick else 1000)
        results["tflite"] = tflite_bench.run(work / "tflite")
    results["goals"] = goals(results)
    results["goal_values"] = goal_values(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    from bench.report import table

    print(table(results))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
