"""The project's pins agree: every exact pin in pyproject.toml is the version requirements.lock installs."""

from __future__ import annotations

import re
import tomllib

from tests.support.common import REPO


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_pyproject_pins_match_the_lock():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = _lock()
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    assert len(requirements) > 20
    for requirement in requirements:
        name, version = requirement.split("==")
        name = re.sub(r"\[.*\]", "", name)
        assert lock.get(re.sub(r"[-_.]+", "-", name).lower()) == version, f"{requirement} is not what the lock installs"
