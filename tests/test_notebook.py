"""model_analysis.ipynb: valid, and every call in it exists in the installed TFMA."""

from __future__ import annotations

import ast

import nbformat
import tensorflow_model_analysis as tfma

from tests.conftest import REPO


def test_notebook_is_valid_and_uses_real_tfma_apis():
    notebook = nbformat.read(REPO / "model_analysis.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    tree = ast.parse(code)
    calls = {
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    tfma_calls = sorted(c for c in calls if c.startswith("tfma."))
    assert tfma_calls == [
        "tfma.load_eval_result",
        "tfma.load_validation_result",
        "tfma.view.render_plot",
        "tfma.view.render_slicing_metrics",
    ]
    for call in tfma_calls:
        target = tfma
        for part in call.split(".")[1:]:
            target = getattr(target, part)
        assert callable(target)
