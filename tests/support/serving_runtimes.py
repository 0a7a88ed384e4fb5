"""The serving runtimes the pushed model is checked in, and the stand-in started in one.

`make setup` builds one small venv per requirements-serving-<TF version>.lock
(scripts/setup.sh); ./dev passes their folders in TASTEBUD_SERVING_ENVS. A test asks
for a runtime by TF version and gets tests/support/tf_serving_standin.py running in it, as a
subprocess on loopback ports (the stand-in's docstring says what is real about it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline import configs

STANDIN = Path(__file__).resolve().parent / "tf_serving_standin.py"
TF_SERVING = "2.19.1"  # the TensorFlow inside tensorflow/serving:2.19.1
START_SECONDS = 240  # loading a model on a busy 2-core machine


def vertex_tf_version() -> str:
    """The TF minor version of the Vertex prediction image in configs, e.g. "2.15"."""
    match = re.search(r"tf2-cpu\.(\d+)-(\d+)", configs.VERTEX_SERVING_IMAGE)
    assert match, f"cannot read a TF version from {configs.VERTEX_SERVING_IMAGE}"
    return f"{match.group(1)}.{match.group(2)}"


def runtimes() -> dict[str, Path]:
    """TF version -> serving env folder, as ./dev exports them."""
    entries = os.environ.get("TASTEBUD_SERVING_ENVS", "").split()
    return {version: Path(folder) for version, _, folder in (e.partition("=") for e in entries)}


def vertex_runtime() -> str:
    """The serving runtime matching the Vertex image (a full version such as "2.15.1")."""
    minor = vertex_tf_version()
    matches = [v for v in runtimes() if v == minor or v.startswith(minor + ".")]
    assert matches, f"no requirements-serving-{minor}.*.lock for Vertex's {configs.VERTEX_SERVING_IMAGE}"
    return matches[0]


def runtime_python(version: str) -> Path:
    """The python of the serving env for TF `version`; skips where that env cannot exist
    (setup wrote why), fails where it simply was not built."""
    envs = runtimes()
    if not envs:
        pytest.fail("TASTEBUD_SERVING_ENVS is empty: run the tests through ./dev (make test)")
    folder = envs.get(version)
    assert folder, f"no serving env for TF {version}; have {sorted(envs)}"
    if (folder / ".complete").exists():
        return folder / "venv" / "bin" / "python"
    reason = Path(f"{folder}.unavailable")
    if reason.exists():
        pytest.skip(f"TF {version} serving runtime cannot be built here: {reason.read_text().strip()}")
    pytest.fail(f"TF {version} serving env {folder} is not built; run 'make setup'")


@dataclass
class Standin:
    """A running stand-in: its ports, the TF version it reports, its process."""

    rest_port: int
    grpc_port: int
    tf_version: str
    process: subprocess.Popen


def start_standin(version: str, model_name: str, base_path: Path) -> subprocess.Popen:
    """Launches the stand-in in runtime `version`. stdout: the READY line; stderr goes to
    a temporary file (a pipe nobody reads could fill and stall it), `process.stderr_file`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TF_USE_LEGACY_KERAS")}
    command = [str(runtime_python(version)), str(STANDIN), "--model_name", model_name]
    stderr_file = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [*command, "--model_base_path", str(base_path)],
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        text=True,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    process.stderr_file = stderr_file
    return process


def wait_ready(process: subprocess.Popen, timeout: float = START_SECONDS) -> Standin:
    """Reads the READY line; raises RuntimeError with the end of the stand-in's stderr when
    it exits first (e.g. "cannot load ..."), TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        line = process.stdout.readline() if ready else ""
        if line.startswith("READY"):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            return Standin(int(fields["rest"]), int(fields["grpc"]), fields["tf"], process)
        if process.poll() is not None:
            process.stderr_file.seek(0)
            raise RuntimeError(process.stderr_file.read().strip()[-3000:])
    process.kill()
    raise TimeoutError(f"the stand-in did not start within {timeout:.0f} s")


@contextmanager
def serving(version: str, model_name: str, base_path: Path):
    """The stand-in serving `base_path` in TF `version`, stopped on exit."""
    process = start_standin(version, model_name, base_path)
    try:
        yield wait_ready(process)
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stderr_file.close()


RUNTIME_IDS = ["tf_serving", "vertex"]  # test ids: TF Serving's TensorFlow, the Vertex image's


def runtime_version(runtime_id: str) -> str:
    """The TF version of a runtime named by its id in RUNTIME_IDS."""
    return TF_SERVING if runtime_id == "tf_serving" else vertex_runtime()


def rest_call(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    """One REST call to the stand-in -> (HTTP status, JSON body)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def b64(data: bytes) -> dict:
    """Bytes as TF Serving's REST API takes them."""
    return {"b64": base64.b64encode(data).decode("ascii")}
