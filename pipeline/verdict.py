"""The blessing decision in words, for local_runner's summary and `tastebud review`:
the out-of-fold evidence and its bar (and why it is that bar), how often the rule lets a
no-skill model through and how often it passes a 90%-accurate one, the pushed model on
the eval split, the comparison with the last blessed model, the verdict, and, when
nothing is blessed, what was needed and how to lower the bar knowingly."""

from __future__ import annotations

from pipeline.blessing import BlessingBar, HoldoutCheck, Record, lowest_significant_count, pass_rate
from pipeline.evaluation import EvaluationSummary

LOOSER_SIGNIFICANCE = (0.05, 0.1)  # what --significance suggestions try, strictest first
SKILLED_ACCURACY = 0.9  # the power the verdict states: how often a model this accurate passes


def _baseline_lines(record: Record, summary: EvaluationSummary) -> list[str]:
    if not summary.has_baseline_model:
        return [f"  last blessed model: {record.plan.reason}"]
    base = next(c for c in summary.comparisons if c.name == "accuracy")
    return [
        f"  last blessed model: accuracy {base.baseline:.3f} on this run's eval split "
        f"(change {base.change:+.3f}); {record.plan.reason}"
    ]


def error_rates(bar: BlessingBar, holdout: HoldoutCheck, accuracy: float = SKILLED_ACCURACY) -> tuple[float, float]:
    """(false-positive rate, power): how often a no-skill model (right at the majority rate on
    each photo) reaches the out-of-fold bar, and how often a model `accuracy`-accurate passes
    both the bar and the eval split's floor; answers taken as independent."""
    n, needed = bar.photo_count, bar.needed_correct
    power = pass_rate(n, needed, accuracy) * pass_rate(holdout.eval_count, holdout.floor_correct, accuracy)
    return pass_rate(n, needed, bar.majority_rate), power


def _percent(rate: float) -> str:
    return "more than 99.9%" if rate > 0.999 else "less than 0.01%" if rate < 1e-4 else f"{rate:.2%}"


def _how_to_lower(bar: BlessingBar, summary: EvaluationSummary) -> list[str]:
    n, lines = bar.photo_count, ["  to lower the bar knowingly:"]
    if bar.from_business_bar:
        lines.append(
            f"    --min-accuracy below {bar.min_accuracy:g} (the significance bar "
            f"{(bar.significant_correct or 0) / n:.3f} still applies), or leave it out"
        )
    for level in (s for s in LOOSER_SIGNIFICANCE if s > bar.significance):
        k = lowest_significant_count(n, bar.majority_rate, level)
        if k is not None:
            lines.append(
                f"    --significance {level:g}: bar {k / n:.3f} ({k} of {n}); a no-skill model passes "
                f"{level:.0%} of the time at most"
            )
            break
    if summary.regressed:
        lines.append("    --new-baseline: bless on the accuracy bar alone, accepting a model worse than the last one")
    lines.append("    or add photos: the same accuracy is more convincing on more photos")
    return lines


def explain(record: Record, summary: EvaluationSummary, blessed: bool, cv_correct: int | None) -> str:
    """Several lines of text; the first is the verdict and the evidence it rests on."""
    bar, holdout = record.bar, record.holdout
    n, needed = bar.photo_count, bar.needed_correct
    n_eval = holdout.eval_count
    eval_correct = round(summary.accuracy * summary.example_count)
    cv = "?" if cv_correct is None else f"{cv_correct / n:.3f} ({cv_correct} of {n})"
    bar_text = f"{bar.accuracy:.3f}" + (f" ({needed} of {n})" if needed is not None else " (unreachable)")
    fpr, power = error_rates(bar, holdout)
    lines = [
        f"{'BLESSED' if blessed else 'NOT blessed'}: {bar.evidence()}: {cv}, bar {bar_text}",
        "  evidence: out-of-fold predictions of the chosen head, every labelled photo (train + eval) "
        "predicted by the fold model that never saw it",
        f"  majority rate {bar.majority_rate:.3f}: always answering {bar.majority_label!r} "
        f"gets {bar.majority_count} of {n} right",
        f"  bar: {bar.reason()}",
        f"  this rule lets a no-skill model through {_percent(fpr)} of the time and passes a "
        f"{SKILLED_ACCURACY:.0%}-accurate model {_percent(power)} of the time at these counts",
        f"  eval split (the model to push): accuracy {summary.accuracy:.3f} ({eval_correct} of {n_eval}), "
        f"floor {holdout.accuracy:.3f} ({holdout.floor_correct} of {n_eval}): {holdout.reason()}",
        *_baseline_lines(record, summary),
    ]
    if blessed:
        return "\n".join(lines)
    if needed is not None and cv_correct is not None and cv_correct < needed:
        lines.append(
            f"  needed: at least {needed} of {n} right out of fold (accuracy {bar.accuracy:.3f}), {cv_correct} were"
        )
    if eval_correct < holdout.floor_correct:
        lines.append(f"  needed: at least {holdout.floor_correct} of {n_eval} eval photos right, {eval_correct} were")
    if summary.regressed:
        base = next(c for c in summary.comparisons if c.name == "accuracy")
        lines.append(f"  needed: no worse on the eval split than the last blessed model's {base.baseline:.3f}")
    return "\n".join(lines + _how_to_lower(bar, summary))
