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
    if "decode_embed_images_per_s" in lite:
        lines.append(
            f"Transform's own decode + embed in-process, without Beam (timed round-robin with the limit, "
            f"minutes before the scaling runs): {lite['decode_embed_images_per_s']:.1f} img/s "
            f"= {lite['decode_embed_vs_limit']:.2f} x the limit; steady-state Transform "
            f"= {lite.get('transform_steady_vs_decode_embed', float('nan')):.2f} x it"
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
    return "\n".join(lines + goal_lines(r))


def _photos(t: dict) -> list[str]:
    """The photo columns: count, long side px range (median), KB range (median)."""
    if "photo_stats" not in t:
        return [str(t["photos"]), "", ""]
    px, kb = t["photo_stats"]["long_side_px"], t["photo_stats"]["file_kb"]
    return [
        str(t["photo_stats"]["count"]),
        f"{px['min']}-{px['max']} ({px['median']:.0f})",
        f"{kb['min']:.0f}-{kb['max']:.0f} ({kb['median']:.0f})",
    ]


def _row(name: str, t: dict, run: dict, keras: dict, ratio: float) -> str:
    script = f"{keras['before']['total_s']:.1f} / {keras['after']['total_s']:.1f}" if "before" in keras else ""
    cells = [name, *_photos(t), f"{run['prepare_s']:.1f}", f"{run['pipeline_s']:.1f}", f"{run['total_s']:.1f}"]
    return "| " + " | ".join(cells + [script, f"{keras['total_s']:.1f}", f"{ratio:.2f}"]) + " |"


def _components(name: str, run: dict) -> str:
    outside = run.get("outside_components_s")
    return (
        f"components (seconds, ML Metadata), {name}: "
        + ", ".join(f"{component} {s:.1f}" for component, s in run["components_s"].items())
        + ("" if outside is None else f"; outside the components (start-up, imports, orchestration) {outside:.1f}")
    )


def time_to_model_lines(r: dict) -> list[str]:
    t, scale = r["time_to_model"], r.get("time_to_model_scale")
    no_tune, tuned = t["tastebud_no_tune"], t["tastebud_default"]
    kind = "photos like users'" if "photo_stats" in t else "generated photos"
    lines = [
        "",
        f"(5) time to model: {kind}, {t['classes']} classes, each run a fresh process (efficientnet_lite0); "
        "each tastebud run against the plain Keras script (same backbone and head) run just before and just after it:",
        "",
        "| run | photos | long side px (median) | KB (median) | prepare s | pipeline s | total s "
        "| script before / after s | script mean s | vs the script |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        _row("tastebud default (with the Tuner)", t, tuned, t["keras_script"], t["default_vs_keras"]),
        _row(
            "tastebud --no-tune (same head; reference)",
            t,
            no_tune,
            t.get("keras_script_no_tune", t["keras_script"]),
            t["no_tune_vs_keras"],
        ),
    ]
    if scale:
        lines.append(
            _row(
                "tastebud default, at scale",
                scale,
                scale["tastebud_default"],
                scale["keras_script"],
                scale["default_vs_keras"],
            )
        )
    lines += ["", _components("default run", tuned), _components("--no-tune run", no_tune)]
    if scale:
        lines.append(_components(f"default run at {scale['photos']} photos", scale["tastebud_default"]))
    if "fixed_costs" in r:
        lines.append(
            "fixed cost per run (seconds beyond per-image work): "
            + ", ".join(f"{name} {s:.1f}" for name, s in r["fixed_costs"].items())
        )
    return lines


def goal_lines(r: dict) -> list[str]:
    """Every goal with its value and whether it held, then the figures with no goal."""
    from bench.goals import GOALS, MEASURES, measure, show

    lines = ["", "goals:"]
    for goal in GOALS:
        held = goal.holds(r)
        mark = {True: "x", False: " ", None: "-"}[held]
        lines.append(f"- [{mark}] {goal.name}: {goal.shown(goal.value(r))}")
    lines += ["", "without a goal:"]
    lines += [f"- {name}: {show(measure(fn, r), unit)}" for name, fn, unit in MEASURES]
    return lines


def _spread(values: list[float | None], unit: str) -> str:
    """max - min of the runs' values, in the values' unit ('' when a run lacks it)."""
    from bench.goals import show

    if any(v is None or v == float("inf") for v in values):
        return ""
    return show(max(values) - min(values), "%" if unit == "%+" else unit)


def compare(runs: list[dict]) -> str:
    """A markdown table: a row per goal and per figure without one, each run's value, their
    spread (max - min), and whether the goal held in every run."""
    from bench.goals import GOALS, MEASURES, measure, show

    head = "| measure | " + " | ".join(f"run {i}" for i in range(1, len(runs) + 1)) + " | spread | held in every run |"
    lines = [head, "|" + " --- |" * (len(runs) + 3)]
    for goal in GOALS:
        values = [goal.value(r) for r in runs]
        held = [goal.holds(r) for r in runs]
        held = "not measured" if None in held else ("yes" if all(held) else "no")
        cells = [goal.shown(v) for v in values] + [_spread(values, goal.unit), held]
        lines.append(f"| {goal.name} | " + " | ".join(cells) + " |")
    for name, fn, unit in MEASURES:
        values = [measure(fn, r) for r in runs]
        lines.append(
            f"| {name} | " + " | ".join([show(v, unit) for v in values] + [_spread(values, unit), "no goal"]) + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--compare":
        print(compare([json.load(open(path)) for path in sys.argv[2:]]))
    else:
        print(table(json.load(open(sys.argv[1] if len(sys.argv) > 1 else "bench/results.json"))))
