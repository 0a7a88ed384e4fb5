"""Fixtures shared by both tiers. Tests run through ./dev (make test), inside the project's environment.

tests/unit/ is the fast tier (make test-fast; fakes allowed), tests/e2e/ the slow one (real
pipeline runs and other minute-scale jobs, its fixtures in tests/e2e/conftest.py); helpers
both use live in tests/support/. Every e2e test is marked `slow` and no unit test is, so
`-m "not slow"` and `tests/unit` select the same tests: collection stops on a test in the
wrong folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.nodeid import coerce_node_id

from tests.support.common import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PHONE, SAMPLE

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

TESTS = Path(__file__).resolve().parent
pytest_plugins = [  # fixtures of their own modules
    "tests.support.transform_run",  # transformed: preprocessing_fn through TFT on a few photos
    "tests.support.tfma_evaluation",  # small_evaluation: a 7-photo evaluation written by TFMA
]


# Session fixtures that are whole pipeline runs (or TFT/TFMA jobs): every module that uses one
# goes to the same pytest-xdist worker, so `make test`'s 2 workers compute each of them once.
SHARED_RUNS = {
    "flowers": "pipeline_runs",
    "inception": "pipeline_runs",
    "standin": "pipeline_runs",
    "transformed": "transformed",
    "small_evaluation": "small_evaluation",
    "reuse_runs": "reuse_runs",
}


def worker_groups(items) -> list:
    """Marks each test with its pytest-xdist group and returns the items in the order the
    workers should take them: the shared pipeline runs first, then the other e2e modules, then
    the unit tier (the longest work first, so short tests fill in at the end). A module is
    never split between workers, so its module fixtures run once."""
    groups: dict[Path, str] = {}
    for item in items:
        shared = [group for name, group in SHARED_RUNS.items() if name in item.fixturenames]
        groups[item.path] = shared[0] if shared else groups.get(item.path, str(item.path))
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item.path]))
    slow_first = sorted(items, key=lambda item: item.get_closest_marker("slow") is None)
    return sorted(slow_first, key=lambda item: groups[item.path] != "pipeline_runs")  # both sorts stable


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    # pytest -n N --dist loadgroup (make test). The workers collect; pytest-xdist sets their
    # `dist` to "no" and `loadgroup` to True, and turns each group mark into a "@group" suffix of
    # the node id, which its scheduler groups by. pytest 9 keeps node ids in `_id`, and
    # pytest-xdist 3.8 writes `_nodeid`: the suffix is lost and a module's tests went to both
    # workers, each running its fixtures. So the suffix is written here, where pytest 9 reads it.
    if config.getoption("dist", "no") != "no" or config.getoption("loadgroup", False):
        items[:] = worker_groups(items)
        for item in items:
            group = item.get_closest_marker("xdist_group").args[0]
            if not item.nodeid.endswith(f"@{group}"):
                item._id = coerce_node_id(f"{item.nodeid}@{group}")
    misplaced = []
    for item in items:
        parts = item.path.resolve().relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
        tier = parts[0] if len(parts) > 1 else None
        if tier in ("unit", "e2e") and (tier == "e2e") != (item.get_closest_marker("slow") is not None):
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "tests/e2e/ holds exactly the tests marked slow, tests/unit/ the others; misplaced:\n  "
            + "\n  ".join(misplaced)
        )


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; make setup installs Debian's chromium into the environment")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def phone(browser):
    """Chromium's device emulation of a 390 x 844 phone screen (CSS pixels, 3x density, touch)."""
    return browser.new_page(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
