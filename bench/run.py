"""`make bench`: every figure side by side in one run, written to bench/results.json.

./dev python -m bench.run [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from bench import backbone_bench, batch_bench, pipeline_bench, serving_bench, transform_bench  # noqa: E402
from bench.common import REPO, log, machine_facts, run_with_peak_rss, sample_images, variants, write_examples  # noqa: E402

LABELS = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
RESULTS = REPO / "bench" / "results.json"


def throughput_section(work: Path, backbone: str, images: list) -> dict:
    """(1)-(4) for one backbone, on the same images."""
    examples = write_examples(images, work / f"{backbone}.tfrecord.gz")
    limit = backbone_bench.backbone_limit(backbone)
    tfdata = backbone_bench.decode_resize_embed(backbone, [d for _, _, d in images])
    seconds, _, _ = run_with_peak_rss(
        [sys.executable, "-m", "bench.transform_bench", "--examples", str(examples), "--backbone", backbone]
    )
    transform_rate = len(images) / seconds
    naive_rate = len(images) / transform_bench.run_naive([d for _, _, d in images], backbone)["seconds"]
    log(f"{backbone}: transform {transform_rate:.1f}/s, naive {naive_rate:.1f}/s")
    return {
        "images": len(images),
        "limit_images_per_s": limit["images_per_s"],
        "limit_best_batch": limit["best_batch"],
        "limit_by_batch": limit["by_batch"],
        "tf_data_images_per_s": tfdata["images_per_s"],
        "transform_images_per_s": transform_rate,
        "transform_seconds": seconds,
        "naive_images_per_s": naive_rate,
        "transform_vs_limit": transform_rate / limit["images_per_s"],
        "transform_vs_naive": transform_rate / naive_rate,
        "tf_data_vs_limit": tfdata["images_per_s"] / limit["images_per_s"],
    }


def scaling_section(work: Path, sizes: list[int]) -> dict:
    rows = {}
    for n in sizes:
        examples = write_examples(variants(n, seed=n), work / f"scale_{n}.tfrecord.gz")
        seconds, peak, _ = run_with_peak_rss(
            [
                sys.executable,
                "-m",
                "bench.transform_bench",
                "--examples",
                str(examples),
                "--backbone",
                "efficientnet_lite0",
            ]
        )
        rows[str(n)] = {"seconds": seconds, "images_per_s": n / seconds, "peak_rss_mb": peak / 2**20}
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
    args = parser.parse_args(argv)
    results = {"machine": machine_facts()}
    with tempfile.TemporaryDirectory(prefix="tastebud-bench-") as tmp:
        work = Path(tmp)
        sample = sample_images()
        results["throughput"] = {
            "efficientnet_lite0": throughput_section(work, "efficientnet_lite0", variants(200 if args.quick else 1000)),
            "inception_v3": throughput_section(
                work, "inception_v3", sample[:64] if args.quick else sample + variants(200)
            ),
        }
        results["pipeline"] = pipeline_bench.run_pipeline(work / "pipeline")
        results["pipeline"]["total_vs_transform"] = (
            results["pipeline"]["total_components_s"] / results["pipeline"]["components_s"]["Transform"]
        )
        results["scaling"] = scaling_section(work, [50, 200, 400] if args.quick else [100, 1000, 5000])
        steady = 1 / results["scaling"]["marginal_s_per_image"][-1]
        lite = results["throughput"]["efficientnet_lite0"]
        lite["transform_steady_images_per_s"] = steady
        lite["transform_steady_vs_limit"] = steady / lite["limit_images_per_s"]
        serving_dir, image = Path(results["pipeline"].pop("serving_dir")), sample[0][2]
        in_process = serving_bench.in_process(serving_dir, image)
        raw = serving_bench.raw_keras(serving_dir, "efficientnet_lite0", image)
        results["serving"] = {
            "in_process": in_process,
            "raw_keras": raw,
            "web": serving_bench.web(serving_dir, image),
            "in_process_p50_vs_raw": in_process["p50_ms"] / raw["p50_ms"],
        }
        results["batch"] = batch_bench.run(str(serving_dir), 200 if args.quick else 1000)
    results["goals"] = goals(results)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    from bench.report import table

    print(table(results))
    print(f"\nwrote {RESULTS}")
    return 0


def goals(r: dict) -> dict:
    lite = r["throughput"]["efficientnet_lite0"]
    scaling = r["scaling"]
    return {
        "transform >= 0.8x limit (lite0, whole run of 1000 images)": lite["transform_vs_limit"] >= 0.8,
        "transform >= 0.8x limit (lite0, steady state 1000 -> 5000 images)": lite["transform_steady_vs_limit"] >= 0.8,
        "transform >= 3x naive (lite0)": lite["transform_vs_naive"] >= 3,
        "scaling linear within 20% (marginal cost)": abs(scaling.get("marginal_ratio", 1) - 1) <= 0.2,
        "peak RSS grows < 20% from 1000 to 5000": scaling.get("rss_growth_1000_to_5000", 0) < 0.2,
        "serving p50 <= 1.3x raw Keras": r["serving"]["in_process_p50_vs_raw"] <= 1.3,
    }


if __name__ == "__main__":
    sys.exit(main())
