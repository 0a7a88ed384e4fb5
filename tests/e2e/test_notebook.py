"""model_analysis.ipynb runs headless on a real pipeline run (the `flowers` fixture); on a small
evaluation written by TFMA in the test it is tests/unit/test_notebook.py."""

from __future__ import annotations

import os
import time

import nbformat
import pytest

from pipeline.evaluation import summarize
from tests.support.common import REPO

NOTEBOOK = REPO / "model_analysis.ipynb"


@pytest.mark.slow
def test_notebook_runs_headless_on_the_pipeline_run(flowers, artifacts_dir, monkeypatch):
    """nbclient runs every cell in a real kernel; the metrics cell shows the accuracy the review reports."""
    from nbclient import NotebookClient

    monkeypatch.setenv("TASTEBUD_OUT", str(flowers["output"]))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    started = time.monotonic()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    seconds = time.monotonic() - started
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells), "every code cell ran"
    assert not [o for cell in code_cells for o in cell.outputs if o.output_type == "error"]
    from pipeline import results

    runs = results.component_runs(results.sqlite_store(str(flowers["output"] / "metadata.sqlite")))
    labels = sorted((flowers["data"] / "dict.txt").read_text().split())
    accuracy = summarize(runs["Evaluator"].output("evaluation").uri, labels).accuracy
    metrics_text = "".join(o.get("text", "") for o in code_cells[1].outputs if o.output_type == "stream")
    assert f"accuracy {accuracy:.3f} on 20 eval examples" in metrics_text
    assert any("image/png" in o.get("data", {}) for o in code_cells[2].outputs), "the confusion matrix is drawn"
    nbformat.write(notebook, artifacts_dir / "model_analysis.executed.ipynb")
    (artifacts_dir / "notebook_seconds.txt").write_text(f"{seconds:.1f}\n")
