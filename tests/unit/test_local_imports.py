"""What a local run imports: tfx.v1 whole, but not its Google Cloud extensions until they are used
(pipeline/local_run.py defer_cloud_extensions; google-cloud-aiplatform costs about 1.6 s a run)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.common import REPO

PROBE = """
import sys
from pipeline.local_run import defer_cloud_extensions
defer_cloud_extensions()
from tfx import v1 as tfx
assert callable(tfx.components.Evaluator) and callable(tfx.dsl.Resolver)
print("before", "google.cloud.aiplatform" in sys.modules)
trainer = tfx.extensions.google_cloud_ai_platform.Trainer  # a Vertex run's name still works
print("after", "google.cloud.aiplatform" in sys.modules, trainer.__name__)
"""


def test_a_local_run_loads_the_cloud_extensions_only_when_used():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[-3:-1] == ["before False", "after True Trainer"], done.stdout
