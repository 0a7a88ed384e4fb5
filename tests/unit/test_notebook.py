"""model_analysis.ipynb runs headless (nbclient, a real kernel) on a small evaluation that TFMA
itself writes (the `small_evaluation` fixture, tests/support/tfma_evaluation.py): every cell runs
without error, the metrics cell shows the accuracy TFMA wrote, the confusion matrix is drawn,
TFMA's widgets render and its validation result reads. On a real pipeline run it is
tests/e2e/test_notebook.py.

The notebook reads its run through tastebud.review.build_review (ML Metadata, then TFMA's
loaders); a first cell added here, before the notebook's own, stands in for the ML Metadata
half: it makes build_review return a Review of this evaluation, summarised by the same
pipeline.evaluation.summarize the real one calls.
"""

from __future__ import annotations

import os

import nbformat
import pytest

from tests.support.common import REPO
from tests.support.tfma_evaluation import LABELS

NOTEBOOK = REPO / "model_analysis.ipynb"
STAND_IN = """
from tastebud import quiet

quiet.configure(verbose=False)

import tastebud.review
from pipeline.evaluation import summarize


def _review_of_the_test_evaluation(output, run_id=None):
    evaluation = summarize({uri!r}, {labels!r})
    return tastebud.review.Review("test-run", True, evaluation, [], {{}}, None, {uri!r}, "")


tastebud.review.build_review = _review_of_the_test_evaluation
"""


def _tfma_accuracy(uri: str) -> float:
    import tensorflow_model_analysis as tfma

    overall = tfma.load_eval_result(uri).get_metrics_for_slice()
    return overall["sparse_categorical_accuracy"]["doubleValue"]


def test_notebook_runs_on_an_evaluation_tfma_wrote(small_evaluation, monkeypatch):
    from nbclient import NotebookClient

    uri = str(small_evaluation)
    accuracy = _tfma_accuracy(uri)
    assert accuracy == pytest.approx(5 / 7)  # what TFMA wrote: 5 of the 7 top scores are right

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    own_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    notebook.cells.insert(0, nbformat.v4.new_code_cell(STAND_IN.format(uri=uri, labels=LABELS)))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()

    assert all(cell.execution_count for cell in own_cells), "every code cell ran"
    assert not [o for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    text = {
        i: "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        for i, cell in enumerate(own_cells)
    }
    assert "run test-run - BLESSED" in text[0] and f"evaluation {uri}" in text[0]
    assert f"accuracy {accuracy:.3f} on 7 eval examples (5 of 7, " in text[1]
    assert any("image/png" in o.get("data", {}) for o in own_cells[2].outputs), "the confusion matrix is drawn"
    for widget in own_cells[3:5]:  # TFMA's slicing-metrics widgets, overall and by label
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in widget.outputs)
    assert "validation ok: True" in text[5]
