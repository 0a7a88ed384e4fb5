"""A small evaluation written by TFMA itself: tfma.analyze_raw_data with the pipeline's own
eval_config (pipeline/evaluator.py) on given scores, as the Evaluator writes it for a model.

The `small_evaluation` fixture (registered in tests/conftest.py) is one such evaluation, written
once per session: 7 photos of 3 classes, 5 right, some top scores below 0.5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

LABELS = ["a", "b", "c"]
SCORES = [
    [0.45, 0.35, 0.20],  # a, right, but no score passes 0.5
    [0.40, 0.30, 0.30],  # a, right
    [0.20, 0.70, 0.10],  # a, taken for b
    [0.10, 0.80, 0.10],  # b, right
    [0.30, 0.40, 0.30],  # b, right
    [0.38, 0.34, 0.28],  # c, taken for a
    [0.10, 0.20, 0.70],  # c, right
]
TRUTH = [0, 0, 0, 1, 1, 2, 2]


def write_evaluation(
    scores: list[list[float]], truth: list[int], labels: list[str], output: Path, accuracy_bar: float = 0.0
) -> Path:
    """Metrics, plots and the validation result of predictions `scores` (one row per example) against
    label indices `truth`, in `output`; the accuracy threshold is `accuracy_bar`, no baseline."""
    import pandas as pd
    import tensorflow_model_analysis as tfma

    from pipeline.evaluator import eval_config
    from preprocessing import features

    # As TFX's Evaluator executor applies the config with no baseline model (its rubber stamp).
    config = tfma.utils.update_eval_config_with_defaults(
        eval_config(len(labels), eval_floor=accuracy_bar, max_regression=1e-10), has_baseline=False, rubber_stamp=True
    )
    del config.model_specs[:]
    config.model_specs.add(label_key=features.LABEL_INDEX_KEY, prediction_key="scores")
    frame = pd.DataFrame(
        {
            features.LABEL_INDEX_KEY: truth,
            features.LABEL_KEY: [labels[i] for i in truth],
            "scores": [np.array(s, dtype=np.float32) for s in scores],
        }
    )
    tfma.analyze_raw_data(frame, config, output_path=str(output))
    return output


@pytest.fixture(scope="session")
def small_evaluation(tmp_path_factory) -> Path:
    """The evaluation of SCORES against TRUTH (LABELS), accuracy bar 0: TFMA's output folder."""
    return write_evaluation(SCORES, TRUTH, LABELS, tmp_path_factory.mktemp("evaluation"))
