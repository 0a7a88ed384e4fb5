"""`make bench`'s goals, report and photos, on made-up results (no benchmark runs)."""

from __future__ import annotations

import copy

from bench import goals as bench_goals
from bench.load import poisson_arrivals
from bench.report import compare, goal_lines
from bench.user_photos import photo_stats, write_photos

STATS = {
    "count": 550,
    "classes": 10,
    "long_side_px": {"min": 513, "median": 766, "max": 1023},
    "short_side_px": {"min": 319, "median": 561, "max": 1016},
    "megapixels_median": 0.43,
    "file_kb": {"min": 20.0, "median": 79.0, "max": 298.0},
    "jpeg_quality": 90,
}


def results(default_vs_keras: float = 1.4, open_p99_ratio: float = 2.5) -> dict:
    """The fields bench.goals reads, as bench.run writes them."""
    return {
        "throughput": {
            "efficientnet_lite0": {"transform_steady_vs_limit": 0.9, "transform_vs_limit": 0.6, "transform_vs_naive": 7}
        },
        "time_to_model": {"photo_stats": STATS, "default_vs_keras": default_vs_keras, "no_tune_vs_keras": 1.2},
        "time_to_model_scale": {"default_vs_keras": 0.9},
        "fixed_costs": {"Transform": 5.0},
        "scaling": {"rss_growth_1000_to_5000": 0.03},
        "serving": {
            "in_process_p50_vs_raw": 1.0,
            "web": {
                "web16_vs_in_process16": 0.9,
                "p99_16_over_p50_1": 14.0,
                "closed_loop_16": {"p99_over_floor": 1.5},
                "open_loop": {"p99_over_p50_1": open_p99_ratio, "errors": {}},
            },
        },
        "batch": {"beam_vs_in_process": 0.95},
        "reuse": {"grown_vs_scratch": 0.3, "above_fixed_vs_scratch": 0.15},
        "tflite": {"size_mb": 4.5, "agreement": 1.0},
    }


def test_every_goal_measured_and_held():
    r = results()
    assert bench_goals.goals(r) == {g.name: True for g in bench_goals.GOALS}
    assert bench_goals.goal_values(r)[bench_goals.GOALS[0].name] == 1.4


def test_issue_27_goals_fail_beyond_their_limits():
    held = bench_goals.goals(results(default_vs_keras=1.6, open_p99_ratio=3.1))
    failed = {name for name, ok in held.items() if not ok}
    assert failed == {bench_goals.GOALS[0].name, bench_goals.GOALS[2].name}


def test_reuse_goals_fail_beyond_their_limits():
    r = results()
    r["reuse"] = {"grown_vs_scratch": 0.51, "above_fixed_vs_scratch": 0.21}
    failed = {name for name, ok in bench_goals.goals(r).items() if not ok}
    reuse = {g.name for g in bench_goals.GOALS if isinstance(g.what, tuple) and g.what[0] == "reuse"}
    assert failed == reuse and len(failed) == 2


def test_failed_open_loop_requests_fail_its_goal():
    r = results()
    r["serving"]["web"]["open_loop"]["errors"] = {"503": 2}
    assert not bench_goals.goals(r)[bench_goals.GOALS[2].name]
    assert bench_goals.goal_values(r)[bench_goals.GOALS[2].name] is None  # JSON has no infinity


def test_older_results_lack_the_new_goals():
    """A results file from before issue 27: small generated photos, no open loop, no phone model;
    its closed-loop ratio comes from the two figures it recorded flat."""
    r = results()
    del r["time_to_model"]["photo_stats"], r["serving"]["web"]["open_loop"], r["tflite"]
    web = r["serving"]["web"]
    del web["closed_loop_16"]
    web["p99_ms_16_clients"], web["latency_floor_ms_16_clients"] = 430.0, 280.0
    held = bench_goals.goals(r)
    assert bench_goals.GOALS[0].name not in held and bench_goals.GOALS[2].name not in held
    assert held[bench_goals.GOALS[1].name]  # 430 / 280 = 1.54 <= 2
    assert "[-] time to model, default settings" in "\n".join(goal_lines(r))


def test_compare_holds_a_goal_only_if_it_holds_in_every_run():
    a, b = results(), results(default_vs_keras=1.7)
    table = compare([a, b])
    row = next(line for line in table.splitlines() if line.startswith(f"| {bench_goals.GOALS[0].name} |"))
    assert row.endswith("| 1.40x | 1.70x | 0.30x | no |")
    row = next(line for line in table.splitlines() if line.startswith("| transform >= 3x naive"))
    assert row.endswith("| yes |")
    old = copy.deepcopy(a)
    del old["serving"]["web"]["open_loop"]
    row = next(line for line in compare([old, a]).splitlines() if bench_goals.GOALS[2].name in line)
    assert row.endswith("| not measured | 2.50x |  | not measured |")


def test_user_photos_are_photo_sized_distinct_and_balanced(tmp_path):
    stats = write_photos(tmp_path, 20)
    assert stats["count"] == 20 and stats["classes"] == 10
    assert 512 <= stats["long_side_px"]["min"] <= stats["long_side_px"]["max"] <= 1024
    files = sorted(tmp_path.glob("*/*.jpg"))
    assert len({f.read_bytes() for f in files}) == 20
    assert {f.parent.name for f in files} >= {"daisy", "daisy_grey", "tulips", "tulips_grey"}
    assert photo_stats(tmp_path) == stats


def test_poisson_arrivals_have_the_asked_rate():
    times = poisson_arrivals(rate=50.0, requests=2000, seed=1)
    assert times == sorted(times) and abs(len(times) / times[-1] - 50.0) < 5.0
    assert times == poisson_arrivals(rate=50.0, requests=2000, seed=1)
