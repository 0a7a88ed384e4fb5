"""The goals of `make bench` and the fixed costs they read, from one run's results.

Issue 27's goals first (time to model with the default settings, the two web tail goals),
then issue 14's, issue 28's (embedding reuse) and the phone model's that still apply. Each goal is a value measured in
results.json and a limit. bench.run records whether each held (results["goals"]) and its
value (results["goal_values"]); bench.report prints them and, comparing runs, a goal holds
only if it holds in every run. A run that lacks a goal's figures (an older results file)
shows it as not measured, and it does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

INF = float("inf")
Measure = tuple[str, ...] | Callable[[dict], float]  # a path of keys into results.json, or a function of it


def measure(what: Measure, r: dict) -> float | None:
    """The value at `what` in the run's results; None when the run did not measure it."""
    try:
        if callable(what):
            return float(what(r))
        for key in what:
            r = r[key]
        return float(r)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def show(v: float | None, unit: str) -> str:
    if v is None:
        return "not measured"
    if v == INF:
        return "failed requests"
    return {"x": f"{v:.2f}x", "s": f"{v:.1f} s", "%+": f"{v:+.1%}", "%": f"{v:.1%}", "MB": f"{v:.2f} MB"}[unit]


@dataclass(frozen=True)
class Goal:
    name: str
    what: Measure
    limit: float
    at_most: bool  # value <= limit (else value >= limit)
    unit: str = "x"  # how values print: "x", "s", "%+" (a growth), "%", "MB"

    def value(self, r: dict) -> float | None:
        return measure(self.what, r)

    def holds(self, r: dict) -> bool | None:
        """None when the run did not measure it."""
        v = self.value(r)
        if v is None:
            return None
        return v <= self.limit if self.at_most else v >= self.limit

    def shown(self, v: float | None) -> str:
        return show(v, self.unit)


def _time_to_model(r: dict) -> float:
    """The default run's ratio, from a section made with photos like users' only
    (bench/user_photos.py; older runs used small generated ones)."""
    t = r["time_to_model"]
    if "photo_stats" not in t:
        raise KeyError("photo_stats")
    return t["default_vs_keras"]


def _closed_loop(r: dict) -> float:
    """p99 at 16 clients / the Little's-law floor; older runs recorded both figures flat."""
    web = r["serving"]["web"]
    if "closed_loop_16" in web:
        return web["closed_loop_16"]["p99_over_floor"]
    return web["p99_ms_16_clients"] / web["latency_floor_ms_16_clients"]


def _open_loop(r: dict) -> float:
    """p99 / the 1-client p50 at the open loop's load; any failed request fails the goal."""
    o = r["serving"]["web"]["open_loop"]
    return INF if o["errors"] else o["p99_over_p50_1"]


LITE = ("throughput", "efficientnet_lite0")
WEB = ("serving", "web")
GOALS = [
    Goal(
        "time to model, default settings (Tuner on) <= 1.5x a plain Keras script (550 realistic photos)",
        _time_to_model,
        1.5,
        at_most=True,
    ),
    Goal(
        "web closed loop: p99 at 16 clients <= 2x the Little's-law floor (16 / in-process batch-16 img/s)",
        _closed_loop,
        2.0,
        at_most=True,
    ),
    Goal("web open loop at 50% of in-process batch-16 capacity: p99 <= 3x the one-client p50", _open_loop, 3.0, True),
    Goal(
        "Transform steady state >= 0.85x limit (lite0, 1000 -> 5000 images)",
        (*LITE, "transform_steady_vs_limit"),
        0.85,
        False,
    ),
    Goal("Transform whole run >= 0.5x limit (lite0, 1000 images)", (*LITE, "transform_vs_limit"), 0.5, False),
    Goal("Transform fixed cost <= 7 s", ("fixed_costs", "Transform"), 7.0, True, "s"),
    Goal("peak RSS grows <= 10% from 1000 to 5000 images", ("scaling", "rss_growth_1000_to_5000"), 0.10, True, "%+"),
    Goal("transform >= 3x naive (lite0)", (*LITE, "transform_vs_naive"), 3.0, False),
    Goal("serving p50 <= 1.3x raw Keras", ("serving", "in_process_p50_vs_raw"), 1.3, True),
    Goal("web at 16 clients >= 0.8x in-process batch 16", (*WEB, "web16_vs_in_process16"), 0.8, False),
    Goal(
        "after +10% photos, the Transform stage (EmbeddingCache + Transform) <= 0.5x from scratch (2,200 photos)",
        ("reuse", "grown_vs_scratch"),
        0.5,
        True,
    ),
    Goal(
        "after +10% photos, the Transform stage above its fixed cost <= 0.2x from scratch's (2,200 photos)",
        ("reuse", "above_fixed_vs_scratch"),
        0.2,
        True,
    ),
    Goal("phone model <= 6 MB", ("tflite", "size_mb"), 6.0, True, "MB"),
    Goal("phone model top-1 agreement with the SavedModel >= 98%", ("tflite", "agreement"), 0.98, False, "%"),
]

# Figures shown beside the goals, with no goal of their own: (what, where, unit).
MEASURES: list[tuple[str, Measure, str]] = [
    ("time to model, --no-tune / plain Keras (reference)", ("time_to_model", "no_tune_vs_keras"), "x"),
    (
        "time to model, scale row (2,200 photos in full runs), default / plain Keras",
        ("time_to_model_scale", "default_vs_keras"),
        "x",
    ),
    ("web p99 at 16 clients / 1-client p50 (issue 14's goal, re-scoped)", (*WEB, "p99_16_over_p50_1"), "x"),
    ("batch labelling, Beam RunInference / in-process", ("batch", "beam_vs_in_process"), "x"),
]


def goals(r: dict) -> dict:
    """{goal: held} for every goal this run measured."""
    return {g.name: held for g in GOALS if (held := g.holds(r)) is not None}


def goal_values(r: dict) -> dict:
    """{goal: measured value} for every goal this run measured (None: requests failed)."""
    return {g.name: (v if v != INF else None) for g in GOALS if (v := g.value(r)) is not None}


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
