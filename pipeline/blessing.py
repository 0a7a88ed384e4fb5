"""The blessing rule: is the chosen head better than no skill, and is the pushed model no worse?

1. The evidence is every labelled photo (train + eval): the k-fold out-of-fold (OOF)
   predictions of the chosen head (models/out_of_fold.py). The no-skill answer is
   answering the majority class every time; its accuracy is the majority rate
   p0 = (largest class) / n. The head is significantly better when a one-sided binomial
   test (SciPy's `binomtest`, alternative="greater") rejects "accuracy = p0" at the chosen
   level. The bar (BlessingBar) is the smallest count of correct OOF answers k (out of n)
   that does, as an accuracy k/n; a business bar (`--min-accuracy`) only ever raises it.
   pipeline/gate.py applies it.
2. The pushed model itself is checked on the held-out eval split (HoldoutCheck): its
   accuracy must not be significantly below the bar (one-sided binomial, alternative
   "less", at HOLDOUT_SIGNIFICANCE). The pipeline hands that floor to TFMA as a value threshold, with
   the no-regression threshold against the last blessed model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from models.settings import CV_FOLDS
from pipeline.baseline import BaselinePlan

SIGNIFICANCE = 0.01  # the out-of-fold binomial test's level (--significance)
HOLDOUT_SIGNIFICANCE = 0.01  # eval accuracy significantly below the bar at this level is a shortfall
FLOAT_MARGIN = 1e-6  # TFMA computes accuracy in float32: k/n may land just below k/n


@dataclass(frozen=True)
class BlessingBar:
    """The bar on n photos' answers. Counts are photos; rates and accuracies are in [0, 1]."""

    photo_count: int  # n: photos judged (every labelled photo, by their out-of-fold predictions)
    majority_label: str
    majority_count: int  # photos of the largest eval class
    significance: float  # the binomial test's level: bless only at p < this
    significant_correct: int | None  # smallest k with p < significance; None: no k <= n gets there
    min_accuracy: float | None = None  # the business bar, if any
    folds: int = CV_FOLDS  # the k of the k-fold out-of-fold predictions judged

    @property
    def majority_rate(self) -> float:
        """Accuracy of always answering the majority class."""
        return self.majority_count / self.photo_count

    @property
    def business_correct(self) -> int:
        """Correct answers the business bar asks for (0 without one)."""
        if self.min_accuracy is None:
            return 0
        return math.ceil(self.min_accuracy * self.photo_count - FLOAT_MARGIN)

    @property
    def needed_correct(self) -> int | None:
        """Correct answers needed to bless; None when no accuracy on this split can pass."""
        if self.significant_correct is None:
            return None
        needed = max(self.significant_correct, self.business_correct)
        return needed if needed <= self.photo_count else None

    @property
    def accuracy(self) -> float:
        """The bar as an accuracy (above 1 when unreachable)."""
        needed = self.needed_correct
        return (self.photo_count + 1) / self.photo_count if needed is None else needed / self.photo_count

    @property
    def lower_bound(self) -> float:
        """The bar as a lower bound on a float32 accuracy (minus a margin, as TFMA computes it)."""
        return self.accuracy - FLOAT_MARGIN

    @property
    def from_business_bar(self) -> bool:
        return self.min_accuracy is not None and self.business_correct > (self.significant_correct or 0)

    def p_value(self, correct: int) -> float:
        """P(at least `correct` of n right | each answer right with the majority rate)."""
        return binomial_p_value(correct, self.photo_count, self.majority_rate)

    def evidence(self) -> str:
        """What was judged, in a few words."""
        return f"{self.folds}-fold CV over {self.photo_count} photos"

    def reason(self) -> str:
        """Why the bar is where it is, in one sentence."""
        n = self.photo_count
        if self.significant_correct is None:
            return (
                f"no accuracy can pass: even {n} of {n} right is not significantly better than the baseline "
                f"rate {self.majority_rate:.3f} at p < {self.significance:g}; add photos"
            )
        if self.needed_correct is None:
            return f"no accuracy can pass: the --min-accuracy business bar {self.min_accuracy:g} is above 1"
        if self.from_business_bar:
            return (
                f"the --min-accuracy business bar {self.min_accuracy:g}, stricter than the significance bar "
                f"{self.significant_correct / n:.3f}"
            )
        return (
            f"the lowest accuracy a one-sided binomial test on the out-of-fold answers for {n} photos finds better "
            f"than the majority rate at p < {self.significance:g} (p = {self.p_value(self.significant_correct):.3g} "
            "at the bar)"
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
    counts: dict[str, int],
    significance: float = SIGNIFICANCE,
    min_accuracy: float | None = None,
    folds: int = CV_FOLDS,
) -> BlessingBar:
    """The bar for out-of-fold answers on photos with these counts per label (train + eval).

    Raises ValueError when there are no photos or the significance is not in (0, 1).
    """
    n = sum(counts.values())
    if n <= 0:
        raise ValueError("no labelled photos: no blessing bar can be computed (run `tastebud prepare`)")
    if not 0 < significance < 1:
        raise ValueError(f"significance must be in (0, 1), got {significance}")
    label, count = max(sorted(counts.items()), key=lambda kv: kv[1])
    return BlessingBar(
        photo_count=n,
        majority_label=label,
        majority_count=count,
        significance=significance,
        significant_correct=lowest_significant_count(n, count / n, significance),
        min_accuracy=min_accuracy,
        folds=folds,
    )


@dataclass(frozen=True)
class HoldoutCheck:
    """The pushed model on the held-out eval split: not significantly below the bar."""

    eval_count: int  # photos in the eval split
    bar: float  # the out-of-fold bar (an accuracy), or above 1 when unreachable
    significance: float
    floor_correct: int  # the fewest right answers whose one-sided (less) p-value against the bar is >= significance

    @property
    def accuracy(self) -> float:
        return self.floor_correct / self.eval_count

    @property
    def lower_bound(self) -> float:
        """TFMA's value threshold on eval accuracy (a margin for TFMA's float32 accuracy)."""
        return self.accuracy - FLOAT_MARGIN

    def reason(self) -> str:
        return (
            f"the fewest right answers not significantly below the bar {min(self.bar, 1.0):.3f} "
            f"(one-sided binomial test, p < {self.significance:g} would be a shortfall)"
        )


def holdout_floor(eval_count: int, bar: float, significance: float) -> int:
    """Smallest k with P(X <= k | eval_count, bar) >= significance: fewer right answers are a
    significant shortfall from the bar. 0 when even 0 right is not (tiny eval splits)."""
    from scipy.stats import binom

    rate = min(bar, 1.0)
    return next(k for k in range(eval_count + 1) if binom.cdf(k, eval_count, rate) >= significance)


def compute_holdout(eval_count: int, bar: BlessingBar, significance: float = HOLDOUT_SIGNIFICANCE) -> HoldoutCheck:
    """The eval split's floor under `bar`. Its own level, not --significance: loosening the
    bar must not make a shortfall easier to find."""
    if eval_count <= 0:
        raise ValueError("the eval split is empty: the pushed model cannot be checked (run `tastebud prepare`)")
    return HoldoutCheck(eval_count, bar.accuracy, significance, holdout_floor(eval_count, bar.accuracy, significance))


def pass_rate(n: int, needed: int | None, accuracy: float) -> float:
    """P(at least `needed` of n right) for a model right with probability `accuracy` on each photo."""
    from scipy.stats import binom

    return 0.0 if needed is None else float(binom.sf(needed - 1, n, accuracy))


@dataclass(frozen=True)
class Record:
    """What a run was judged against: the BlessingGate records it on its blessing (RECORD_PROPERTY)."""

    bar: BlessingBar  # the out-of-fold bar
    holdout: HoldoutCheck  # the Evaluator's floor on the eval split
    plan: BaselinePlan  # whether the last blessed model was compared, and why

    @classmethod
    def from_json(cls, text: str | None) -> Record | None:
        """The gate's record; None without one, or without a bar (not known when the pipeline was compiled)."""
        found = json.loads(text) if text else {}
        if not found.get("bar") or not found.get("holdout") or not found.get("plan"):
            return None
        return cls(BlessingBar(**found["bar"]), HoldoutCheck(**found["holdout"]), BaselinePlan(**found["plan"]))
