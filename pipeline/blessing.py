"""The blessing bar: the lowest eval accuracy that counts as better than no skill.

The no-skill baseline is answering the eval split's majority class every time; its
accuracy is the majority rate p0 = (largest class) / n. A candidate is significantly
better when a one-sided binomial test (SciPy's `binomtest`, alternative="greater")
rejects "accuracy = p0" at the chosen level. The bar is the smallest count of correct
answers k (out of n) that does, as an accuracy k/n; a business bar (`--min-accuracy`)
on top only ever raises it. The pipeline hands the bar to TFMA as a value threshold,
so the Evaluator's blessing, its artefacts and `tastebud review` all show it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline import configs


@dataclass(frozen=True)
class BlessingBar:
    """The bar for one eval split. Counts are photos; rates and accuracies are in [0, 1]."""

    eval_count: int  # n: photos in the eval split
    majority_label: str
    majority_count: int  # photos of the largest eval class
    significance: float  # the binomial test's level: bless only at p < this
    significant_correct: int | None  # smallest k with p < significance; None: no k <= n gets there
    min_accuracy: float | None = None  # the business bar, if any

    @property
    def baseline_rate(self) -> float:
        """Accuracy of always answering the majority class."""
        return self.majority_count / self.eval_count

    @property
    def business_correct(self) -> int:
        """Correct answers the business bar asks for (0 without one)."""
        if self.min_accuracy is None:
            return 0
        return math.ceil(self.min_accuracy * self.eval_count - configs.BLESSING_FLOAT_MARGIN)

    @property
    def needed_correct(self) -> int | None:
        """Correct answers needed to bless; None when no accuracy on this split can pass."""
        if self.significant_correct is None:
            return None
        needed = max(self.significant_correct, self.business_correct)
        return needed if needed <= self.eval_count else None

    @property
    def accuracy(self) -> float:
        """The bar as an accuracy (above 1 when unreachable)."""
        needed = self.needed_correct
        return (self.eval_count + 1) / self.eval_count if needed is None else needed / self.eval_count

    @property
    def lower_bound(self) -> float:
        """TFMA's value threshold: the bar minus a margin for TFMA's float32 accuracy."""
        return self.accuracy - configs.BLESSING_FLOAT_MARGIN

    @property
    def from_business_bar(self) -> bool:
        return self.min_accuracy is not None and self.business_correct > (self.significant_correct or 0)

    def p_value(self, correct: int) -> float:
        """P(at least `correct` of n right | each answer right with the baseline rate)."""
        return binomial_p_value(correct, self.eval_count, self.baseline_rate)

    def reason(self) -> str:
        """Why the bar is where it is, in one sentence."""
        n = self.eval_count
        if self.significant_correct is None:
            return (
                f"no accuracy can pass: even {n} of {n} right is not significantly better than the baseline "
                f"rate {self.baseline_rate:.3f} at p < {self.significance:g}; add eval photos"
            )
        if self.needed_correct is None:
            return f"no accuracy can pass: the --min-accuracy business bar {self.min_accuracy:g} is above 1"
        if self.from_business_bar:
            return (
                f"the --min-accuracy business bar {self.min_accuracy:g}, stricter than the significance bar "
                f"{self.significant_correct / n:.3f}"
            )
        return (
            f"the lowest accuracy a one-sided binomial test on {n} eval photos finds better than the baseline "
            f"rate at p < {self.significance:g} (p = {self.p_value(self.significant_correct):.3g} at the bar)"
        )


def binomial_p_value(correct: int, n: int, rate: float) -> float:
    """One-sided (greater) binomial test p-value of `correct` successes in `n` at `rate`."""
    from scipy.stats import binomtest

    return float(binomtest(correct, n, rate, alternative="greater").pvalue)


def lowest_significant_count(n: int, rate: float, significance: float) -> int | None:
    """Smallest k in [0, n] with binomial_p_value(k, n, rate) < significance, or None.

    The p-value falls as k grows, so a binary search needs about log2(n) tests.
    """
    if n <= 0 or binomial_p_value(n, n, rate) >= significance:
        return None
    low, high = 0, n  # invariant: high passes
    while low < high:
        mid = (low + high) // 2
        if binomial_p_value(mid, n, rate) < significance:
            high = mid
        else:
            low = mid + 1
    return high


def compute_bar(
    eval_counts: dict[str, int],
    significance: float = configs.BLESSING_SIGNIFICANCE,
    min_accuracy: float | None = configs.EVAL_ACCURACY_THRESHOLD,
) -> BlessingBar:
    """The bar for an eval split with these photos per label.

    Raises ValueError when the split is empty or the significance is not in (0, 1).
    """
    n = sum(eval_counts.values())
    if n <= 0:
        raise ValueError("the eval split is empty: no blessing bar can be computed (run `tastebud prepare`)")
    if not 0 < significance < 1:
        raise ValueError(f"significance must be in (0, 1), got {significance}")
    label, count = max(sorted(eval_counts.items()), key=lambda kv: kv[1])
    return BlessingBar(
        eval_count=n,
        majority_label=label,
        majority_count=count,
        significance=significance,
        significant_correct=lowest_significant_count(n, count / n, significance),
        min_accuracy=min_accuracy,
    )


def imbalance_warning(counts: dict[str, int], ratio: float = configs.IMBALANCE_WARNING_RATIO) -> str | None:
    """A warning when the largest class has more than `ratio` times the photos of the smallest."""
    if len(counts) < 2:
        return None
    (small, n_small), (large, n_large) = (
        min(counts.items(), key=lambda kv: kv[1]),
        max(counts.items(), key=lambda kv: kv[1]),
    )
    if n_large <= ratio * n_small:
        return None
    return (
        f"unbalanced classes: {large!r} has {n_large} photos, {small!r} {n_small} (more than {ratio:g}x); "
        "accuracy flatters the majority class, so read balanced accuracy and macro-F1"
    )
