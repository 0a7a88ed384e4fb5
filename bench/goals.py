"""Issue 14's goals and the fixed costs they read, from one `make bench` run's results.

bench.run records them in results.json; bench.report checks them when comparing runs.
"""

from __future__ import annotations


def fixed_costs(r: dict) -> dict:
    """Seconds each component costs beyond its per-image work, from this run's figures:
    Transform's is its whole-run time on 1,000 images minus 1,000 x the steady-state
    seconds per image (scaling, 1,000 -> 5,000); the other components' are their times in
    the time-to-model run (--no-tune), which barely depend on the number of photos."""
    scaling = r["scaling"]["runs"]
    per_image = r["scaling"]["marginal_s_per_image"][-1]
    components = dict(r["time_to_model"]["tastebud_no_tune"]["components_s"])
    costs = {name: s for name, s in components.items() if name != "Transform"}
    if "1000" in scaling:
        costs["Transform"] = scaling["1000"]["seconds"] - 1000 * per_image
    costs["Tuner (default runs only)"] = r["time_to_model"]["tastebud_default"]["components_s"].get("Tuner", 0.0)
    return costs


def goals(r: dict) -> dict:
    """Issue 14's goals, then the earlier ones that still apply."""
    lite = r["throughput"]["efficientnet_lite0"]
    scaling = r["scaling"]
    web = r["serving"]["web"]
    goals = {
        "time to model <= 2.0x a plain Keras script (550 photos, same backbone and head)": r["time_to_model"][
            "no_tune_vs_keras"
        ]
        <= 2.0,
        "Transform whole run >= 0.5x limit (lite0, 1000 images)": lite["transform_vs_limit"] >= 0.5,
        "Transform fixed cost <= 7 s": r["fixed_costs"].get("Transform", 99) <= 7,
        "Transform steady state >= 0.85x limit (lite0, 1000 -> 5000 images)": lite["transform_steady_vs_limit"] >= 0.85,
        "peak RSS grows <= 10% from 1000 to 5000 images": scaling.get("rss_growth_1000_to_5000", 0) <= 0.10,
        "transform >= 3x naive (lite0)": lite["transform_vs_naive"] >= 3,
        "serving p50 <= 1.3x raw Keras": r["serving"]["in_process_p50_vs_raw"] <= 1.3,
    }
    if "tflite" in r:
        goals["phone model <= 6 MB, top-1 agreement with the SavedModel >= 98%"] = (
            r["tflite"]["size_mb"] <= 6 and r["tflite"]["agreement"] >= 0.98
        )
    if "web16_vs_in_process16" in web:
        goals["web at 16 clients >= 0.8x in-process batch 16"] = web["web16_vs_in_process16"] >= 0.8
        goals["web p99 at 16 clients <= 3x single-client p50"] = web["p99_ms_16_clients"] <= 3 * web["p50_ms_1_client"]
    return goals
