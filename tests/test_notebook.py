"""model_analysis.ipynb: valid, its TFMA calls exist, and it runs headless on a real pipeline run."""

from __future__ import annotations

import ast
import os
import time

import nbformat
import pytest
import tensorflow_model_analysis as tfma

from pipeline.evaluation import summarize
from tests.conftest import REPO

NOTEBOOK = REPO / "model_analysis.ipynb"


def test_notebook_is_valid_and_uses_real_tfma_apis():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    calls = {
        ast.unparse(node.func)
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    tfma_calls = sorted(c for c in calls if c.startswith("tfma."))
    assert tfma_calls == [
        "tfma.load_eval_result",
        "tfma.load_validation_result",
        "tfma.view.render_slicing_metrics",
    ]
    for call in tfma_calls:
        target = tfma
        for part in call.split(".")[1:]:
            target = getattr(target, part)
        assert callable(target)


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
