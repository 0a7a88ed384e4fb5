"""(5) the end-to-end local pipeline on the sample: wall time per component from ML Metadata."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO, SAMPLE, log


def run_pipeline(workdir: Path, backbone: str = "efficientnet_lite0", *flags: str) -> dict:
    """prepare + local_runner.py --no-cache on the sample; `flags` go to local_runner.py."""
    from pipeline import results

    data, out = workdir / "data", workdir / "out"
    subprocess.run(
        [sys.executable, "-m", "tastebud", "prepare", str(SAMPLE), "--out", str(data)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "local_runner.py",
            "--data",
            str(data),
            "--output",
            str(out),
            "--backbone",
            backbone,
            "--no-cache",
            *flags,
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    runs = results.component_runs(results.sqlite_store(str(out / "metadata.sqlite")))
    components = {name: round(r.seconds, 2) for name, r in runs.items()}
    log(f"pipeline: {components}, wall {wall:.1f} s")
    return {
        "wall_s": wall,
        "components_s": components,
        "total_components_s": sum(components.values()),
        "serving_dir": str(out / "serving" / "tastebud"),
    }
