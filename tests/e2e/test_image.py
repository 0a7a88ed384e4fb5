"""The pipeline image ships all the code: checked on the image's files, rebuilt from the Dockerfile.

Docker's engine does not run here. tests/support/image_tree.py is the stand-in for the file steps of
`docker build`: the build context less `.dockerignore`, then the Dockerfile's COPY/ADD,
WORKDIR and ENV, into a temporary folder. The RUN steps are stood in for by this
environment: its site-packages for the pip installs (the same pins: tests/unit/test_vertex.py checks
requirements-image.txt against requirements.lock) and its weights cache for the baked
Lite0 weights. With only that tree on the path (the image's PYTHONPATH), every shipped
module must import, and `tastebud prepare` and the pipeline's Transform must run with
the DirectRunner in multi_processing mode: 2 worker processes that import the project's
code from the tree, as Dataflow's workers import it from the image.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import image_tree, synthetic
from tests.support.common import REPO

pytestmark = pytest.mark.slow

PROBE = REPO / "tests" / "support" / "image_probe.py"


def run_probe(image: image_tree.Image, *args: str) -> dict:
    """tests/support/image_probe.py as source (-c): nothing of the repository reaches its sys.path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The image's ENV, but the baked weights are where this environment keeps them.
    env |= {k: v for k, v in image.env.items() if k != "TASTEBUD_WEIGHTS_CACHE"}
    env["PYTHONPATH"] = ":".join(str(p) for p in image.pythonpath())
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.read_text(), *args],
        cwd=image.path("."),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_image_runs_prepare_and_transform_on_its_own_files(tmp_path):
    image = image_tree.build(REPO / "Dockerfile", REPO, tmp_path / "image")
    assert not (image.path("tests").exists() or image.path("out").exists() or image.path(".git").exists())
    rows = synthetic.indistinct_classes(tmp_path / "photos", {"tasty": 6, "not tasty": 6})
    report = run_probe(image, str(synthetic.write_csv(rows, tmp_path / "labels.csv")), str(tmp_path / "work"))
    print("seconds in the image tree:", report["seconds"])

    assert report["import_failures"] == {}, f"{len(report['import_failures'])} of {len(report['modules'])} fail"
    needed = {"data.prepare", "data.validate", "tastebud.batch_predict", "preprocessing.preprocessing", "models.model"}
    assert needed <= set(report["modules"]), needed - set(report["modules"])
    assert "error" not in report, report["error"]
    assert report["prepare_exit"] == 0 and report["prepared"]["train"] + report["prepared"]["eval"] == 12
    assert {split: len(sizes) for split, sizes in report["transformed"].items()} == report["prepared"]
    assert {size for sizes in report["transformed"].values() for size in sizes} == {1280}  # Lite0's embedding
