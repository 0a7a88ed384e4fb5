"""The serving runtimes' bookkeeping (tests/support/serving_runtimes.py): the Vertex image's TF has
a runtime, and one that cannot exist skips with setup's reason while a missing one fails. Models
in the runtimes themselves (other TensorFlow interpreters) are tests/e2e/test_serving_runtimes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.common import REPO
from tests.support.serving_runtimes import (
    TF_SERVING,
    runtime_python,
    runtimes,
    vertex_runtime,
    vertex_tf_version,
)


def test_vertex_image_in_configs_has_a_serving_runtime():
    version = vertex_runtime()
    assert version.startswith(vertex_tf_version() + ".")
    lock = REPO / f"requirements-serving-{version}.lock"
    assert f"tensorflow-cpu=={version}" in lock.read_text().lower().replace("_", "-")
    assert TF_SERVING in runtimes()


def test_a_runtime_that_cannot_exist_skips_with_setups_reason_and_a_missing_one_fails(tmp_path, monkeypatch):
    folder = tmp_path / "serving-9.9.9-abc"
    monkeypatch.setenv("TASTEBUD_SERVING_ENVS", f"9.9.9={folder}")
    with pytest.raises(pytest.fail.Exception, match="is not built; run 'make setup'"):
        runtime_python("9.9.9")
    Path(f"{folder}.unavailable").write_text("no Python 3.9-3.12 runs inside the project's environment\n")
    with pytest.raises(pytest.skip.Exception, match="cannot be built here: no Python 3.9-3.12 runs inside"):
        runtime_python("9.9.9")
    (folder / "venv" / "bin").mkdir(parents=True)
    (folder / ".complete").touch()
    assert runtime_python("9.9.9") == folder / "venv" / "bin" / "python"
