"""The blessing decision in words, for local_runner's summary and `tastebud review`:
accuracy, the no-skill baseline rate, the bar and why it is that bar, the comparison
with the last blessed model, the verdict, and, when nothing is blessed, what was needed
and how to lower the bar knowingly."""

from __future__ import annotations

from pipeline.baseline import BaselinePlan
from pipeline.blessing import BlessingBar, lowest_significant_count
from pipeline.evaluation import EvaluationSummary

LOOSER_SIGNIFICANCE = (0.05, 0.1)  # what --significance suggestions try, strictest first


def _baseline_lines(plan: BaselinePlan, summary: EvaluationSummary) -> list[str]:
    if not summary.has_baseline:
        return [f"  last blessed model: {plan.reason}"]
    base = next(c for c in summary.comparisons if c.name == "accuracy")
    return [f"  last blessed model: accuracy {base.baseline:.3f} (change {base.change:+.3f}); {plan.reason}"]


def _regressed(summary: EvaluationSummary) -> bool:
    return any("change vs baseline" in f for f in summary.failures)


def _how_to_lower(bar: BlessingBar, summary: EvaluationSummary) -> list[str]:
    n, lines = bar.eval_count, ["  to lower the bar knowingly:"]
    if bar.from_business_bar:
        lines.append(
            f"    --min-accuracy below {bar.min_accuracy:g} (the significance bar "
            f"{(bar.significant_correct or 0) / n:.3f} still applies), or leave it out"
        )
    for level in (s for s in LOOSER_SIGNIFICANCE if s > bar.significance):
        k = lowest_significant_count(n, bar.baseline_rate, level)
        if k is not None:
            lines.append(
                f"    --significance {level:g}: bar {k / n:.3f} ({k} of {n}); a no-skill model passes "
                f"{level:.0%} of the time at most"
            )
            break
    if _regressed(summary):
        lines.append("    --new-baseline: bless on the accuracy bar alone, accepting a model worse than the last one")
    lines.append("    or add eval photos: the same accuracy is more convincing on more photos")
    return lines


def explain(bar: BlessingBar, plan: BaselinePlan, summary: EvaluationSummary, blessed: bool) -> str:
    """Several lines of text; the first is the verdict."""
    n = bar.eval_count
    correct = round(summary.accuracy * n)
    needed = bar.needed_correct
    lines = [
        f"{'BLESSED' if blessed else 'NOT blessed'}: accuracy {summary.accuracy:.3f} ({correct} of {n} eval photos)",
        f"  baseline rate {bar.baseline_rate:.3f}: always answering {bar.majority_label!r} "
        f"gets {bar.majority_count} of {n} right",
        f"  bar {bar.accuracy:.3f}" + (f" ({needed} of {n})" if needed is not None else "") + f": {bar.reason()}",
        *_baseline_lines(plan, summary),
    ]
    if blessed:
        return "\n".join(lines)
    if needed is not None:
        need = f"  needed: at least {needed} of {n} right (accuracy {bar.accuracy:.3f}), {correct} were"
        if _regressed(summary):
            base = next(c for c in summary.comparisons if c.name == "accuracy")
            need += f"; and no worse than the last blessed model's {base.baseline:.3f}"
        lines.append(need)
    return "\n".join(lines + _how_to_lower(bar, summary))
