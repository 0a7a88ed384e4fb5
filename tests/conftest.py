"""Shared fixtures. Tests run through ./dev (make test), inside the project's environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "flowers_small"
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and reports kept from test runs


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
