"""Per-class numbers from a confusion matrix, and the Wilson intervals and texts they are shown with
(pipeline/evaluation.py reads TFMA's output into them; the review and the notebook show them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INTERVAL_CONFIDENCE = 0.95  # Wilson intervals on accuracy and per-class recall


def wilson_interval(successes: int, n: int, confidence: float = INTERVAL_CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval for a proportion (SciPy's binomtest); (nan, nan) when n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    from scipy.stats import binomtest

    interval = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def rate_text(value: float) -> str:
    """0.750, or '-' for an undefined rate (a precision of a class the model never predicted)."""
    return "-" if math.isnan(value) else f"{value:.3f}"


def count_text(successes: int, n: int) -> str:
    """'3 of 4, 95% CI 0.301-0.954': the count behind a rate and its Wilson interval."""
    low, high = wilson_interval(successes, n)
    if n <= 0:
        return "0 of 0"
    return f"{successes} of {n}, {INTERVAL_CONFIDENCE:.0%} CI {low:.3f}-{high:.3f}"


@dataclass
class ClassMetrics:
    """One class, from the argmax confusion matrix: precision = correct / predicted, recall = correct / support."""

    label: str
    precision: float  # nan when the model never predicted this class
    recall: float  # nan when the eval split has no photo of it
    support: int  # eval photos of this class (the confusion matrix's row)
    predicted: int | None = None  # eval photos the model labelled this class (its column)

    @property
    def correct(self) -> int:
        """Photos of this class labelled right (the confusion matrix's diagonal)."""
        return round(self.recall * self.support) if self.support else 0

    @property
    def recall_interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.support)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        if math.isnan(p + r):
            return float("nan")
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def class_metrics(labels: list[str], confusion: np.ndarray) -> list[ClassMetrics]:
    """Per-class numbers from a [actual, predicted] count matrix."""
    found = []
    for i, label in enumerate(labels):
        correct, support, predicted = int(confusion[i, i]), int(confusion[i].sum()), int(confusion[:, i].sum())
        found.append(
            ClassMetrics(
                label,
                correct / predicted if predicted else float("nan"),
                correct / support if support else float("nan"),
                support,
                predicted,
            )
        )
    return found
