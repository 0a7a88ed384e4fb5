"""Formats bench/results.json as the table printed by `make bench` (and kept in the README)."""

from __future__ import annotations

import json
import sys


def table(r: dict) -> str:
    m = r["machine"]
    lines = [f"commit {m['commit']} · {m['cores']} cores · {m['cpu_model']} · TF {m['tensorflow']} · {m['date']}", ""]
    lines.append(
        "| backbone | images | (1) limit img/s | (2) tf.data img/s | (3) Transform img/s | (4) naive img/s "
        "| (3)/(1) | (3)/(4) |"
    )
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, t in r["throughput"].items():
        lines.append(
            f"| {name} | {t['images']} | {t['limit_images_per_s']:.1f} (batch {t['limit_best_batch']}) "
            f"| {t['tf_data_images_per_s']:.1f} | {t['transform_images_per_s']:.1f} | {t['naive_images_per_s']:.1f} "
            f"| {t['transform_vs_limit']:.2f} | {t['transform_vs_naive']:.2f} |"
        )
    lines += time_to_model_lines(r)
    s = r["scaling"]
    lines += [
        "",
        "(6) Transform scaling (efficientnet_lite0, generated images):",
        "",
        "| images | seconds | img/s | peak RSS MB |",
        "| --- | --- | --- | --- |",
    ]
    for n, row in s["runs"].items():
        lines.append(f"| {n} | {row['seconds']:.1f} | {row['images_per_s']:.1f} | {row['peak_rss_mb']:.0f} |")
    lines.append("")
    lines.append(
        "marginal seconds per image between sizes: " + ", ".join(f"{x:.4f}" for x in s["marginal_s_per_image"])
    )
    lite = r["throughput"].get("efficientnet_lite0", {})
    if "transform_steady_images_per_s" in lite:
        lines.append(
            f"steady-state Transform (marginal, last step): {lite['transform_steady_images_per_s']:.1f} img/s "
            f"= {lite['transform_steady_vs_limit']:.2f} x the limit"
        )
    if "rss_growth_1000_to_5000" in s:
        lines.append(f"peak RSS growth 1000 -> 5000 images: {s['rss_growth_1000_to_5000']:+.1%}")
    v = r["serving"]
    lines += [
        "",
        "(7) serving one image (efficientnet_lite0):",
        "",
        "| path | p50 ms | p99 ms | img/s @1 | @4 | @16 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("raw_keras", "in_process"):
        x = v[name]
        c = x["images_per_s_at_concurrency"]
        lines.append(
            f"| {name} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | {c['1']:.1f} | {c['4']:.1f} | {c['16']:.1f} |"
        )
    lines.append(f"\nin-process p50 / raw Keras p50: {v['in_process_p50_vs_raw']:.2f}")
    from bench.serving_bench import summary

    lines += ["", "(8) `tastebud serve --model` with micro-batching, one-photo clients:", "", summary(v["web"])]
    if "tflite" in r:
        from bench.tflite_bench import lines as tflite_lines

        lines += tflite_lines(r["tflite"])
    lines += ["", "goals:"] + [f"- [{'x' if ok else ' '}] {goal}" for goal, ok in r["goals"].items()]
    return "\n".join(lines)


def _runs(keras: dict) -> str:
    """', mean of the runs before and after tastebud: A / B s' when the run recorded both."""
    if "before" not in keras:
        return ""
    before, after = keras["before"]["total_s"], keras["after"]["total_s"]
    return f", mean of the runs before and after tastebud: {before:.1f} / {after:.1f} s"


def time_to_model_lines(r: dict) -> list[str]:
    t = r["time_to_model"]
    keras, no_tune, tuned = t["keras_script"], t["tastebud_no_tune"], t["tastebud_default"]
    lines = [
        "",
        f"(5) time to model: {t['photos']} generated photos, {t['classes']} classes, each run a fresh process "
        "(efficientnet_lite0):",
        "",
        "| run | prepare s | pipeline s | total s | vs Keras script |",
        "| --- | --- | --- | --- | --- |",
        f"| plain Keras script (same backbone and head){_runs(keras)} | | | {keras['total_s']:.1f} | 1.00 |",
        f"| tastebud --no-tune (same head) | {no_tune['prepare_s']:.1f} | {no_tune['pipeline_s']:.1f} "
        f"| {no_tune['total_s']:.1f} | {t['no_tune_vs_keras']:.2f} |",
        f"| tastebud default (with the Tuner) | {tuned['prepare_s']:.1f} | {tuned['pipeline_s']:.1f} "
        f"| {tuned['total_s']:.1f} | {t['default_vs_keras']:.2f} |",
        "",
        "components (seconds, ML Metadata), --no-tune run: "
        + ", ".join(f"{name} {s:.1f}" for name, s in no_tune["components_s"].items())
        + (
            f"; outside the components (start-up, imports, orchestration) {no_tune['outside_components_s']:.1f}"
            if "outside_components_s" in no_tune
            else ""
        ),
    ]
    if "fixed_costs" in r:
        lines.append(
            "fixed cost per run (seconds beyond per-image work): "
            + ", ".join(f"{name} {s:.1f}" for name, s in r["fixed_costs"].items())
        )
    return lines


def goal_values(r: dict) -> list[tuple[str, str, str | None]]:
    """Issue 14's measures of one run: (what, value, the key of its goal in bench.goals.goals or None)."""
    lite, t, web = r["throughput"]["efficientnet_lite0"], r["time_to_model"], r["serving"]["web"]
    no_tune, keras = t["tastebud_no_tune"]["total_s"], t["keras_script"]["total_s"]
    return [
        (
            "time to model, 550 photos: tastebud --no-tune / plain Keras (goal <= 2.0x)",
            f"{t['no_tune_vs_keras']:.2f}x ({no_tune:.0f} / {keras:.0f} s)",
            "time to model <= 2.0x a plain Keras script (550 photos, same backbone and head)",
        ),
        ("the same with the Tuner (the default; no goal)", f"{t['default_vs_keras']:.2f}x", None),
        (
            "Transform, whole run of 1,000 images / limit (goal >= 0.5x)",
            f"{lite['transform_vs_limit']:.2f}x",
            "Transform whole run >= 0.5x limit (lite0, 1000 images)",
        ),
        (
            "Transform fixed cost (goal <= 7 s)",
            f"{r['fixed_costs']['Transform']:.1f} s",
            "Transform fixed cost <= 7 s",
        ),
        (
            "Transform steady state 1,000 -> 5,000 / limit (goal >= 0.85x)",
            f"{lite['transform_steady_vs_limit']:.2f}x",
            "Transform steady state >= 0.85x limit (lite0, 1000 -> 5000 images)",
        ),
        (
            "Transform peak RSS growth 1,000 -> 5,000 (goal <= +10%)",
            f"{r['scaling']['rss_growth_1000_to_5000']:+.1%}",
            "peak RSS grows <= 10% from 1000 to 5000 images",
        ),
        (
            "web at 16 clients / in-process batch 16 (goal >= 0.8x)",
            f"{web['web16_vs_in_process16']:.2f}x",
            "web at 16 clients >= 0.8x in-process batch 16",
        ),
        (
            "web p99 at 16 clients / 1-client p50 (goal <= 3x)",
            f"{web['p99_16_over_p50_1']:.1f}x",
            "web p99 at 16 clients <= 3x single-client p50",
        ),
        ("batch labelling, Beam RunInference / in-process (no goal)", f"{r['batch']['beam_vs_in_process']:.2f}x", None),
    ]


def compare(runs: list[dict]) -> str:
    """A markdown row per measure: each run's value, and whether its goal held in every run."""
    from bench.goals import goals

    held = [goals(r) for r in runs]
    rows = zip(*(goal_values(r) for r in runs), strict=True)
    lines = []
    for measures in rows:
        name, key = measures[0][0], measures[0][2]
        ok = "" if key is None else ("yes" if all(h[key] for h in held) else "no")
        lines.append(f"| {name} | " + " | ".join(m[1] for m in measures) + f" | {ok} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--compare":
        print(compare([json.load(open(path)) for path in sys.argv[2:]]))
    else:
        print(table(json.load(open(sys.argv[1] if len(sys.argv) > 1 else "bench/results.json"))))
