"""`tastebud prepare SOURCE --out DATA_DIR`: argument parsing and the printed report."""

from __future__ import annotations

import argparse
import sys

from preprocessing import contract

ACCEPTS_BEAM_ARGS = True  # unknown --flags go to Beam (e.g. --runner=DataflowRunner --project=...)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source", help="folder with one sub-folder per class, or a CSV of path_or_uri,label (local or gs://)"
    )
    p.add_argument("--out", required=True, help="output DATA_DIR (local or gs://)")
    p.add_argument("--eval-fraction", type=float, default=0.1, help="share of images held out for eval (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the content-hash split (default 0)")
    p.add_argument(
        "--max-pixels", type=int, default=None, help="reject images with more pixels (default 201,326,592 = 200 MP)"
    )
    p.add_argument("--labels", help=f"an existing {contract.LABELS_FILE}: keep its order, reject labels not in it")
    p.add_argument(
        "--exclude",
        action="append",
        metavar="FILE.csv",
        help=f"skip the inputs a CSV's uri column lists (e.g. a reviewed copy of {contract.DATA_HEALTH_CSV}, "
        "trimmed to the photos to leave out); may be given more than once",
    )
    p.add_argument(
        "--max-rejected-fraction",
        type=float,
        default=1.0,
        help="exit non-zero (after writing the report) when more than this share of inputs is rejected",
    )


def _read_labels(path: str) -> tuple[str, ...]:
    from data.sources import normalise_label

    return tuple(normalise_label(label) for label in contract.read_labels_file(path))


def format_summary(summary: dict, out: str = "DATA_DIR") -> str:
    lines = [f"{'class':<20} {'train':>7} {'eval':>7}"]
    for label, counts in summary["classes"].items():
        lines.append(f"{label:<20} {counts['train']:>7} {counts['eval']:>7}")
    lines.append(f"{'total':<20} {summary['splits']['train']:>7} {summary['splits']['eval']:>7}")
    lines.append(
        f"input {summary['input']} = written {summary['written']} + rejected {summary['rejected']}"
        f" + skipped {summary['skipped']}"
    )
    if summary.get("near_duplicates"):
        from data.health import plural

        photos = plural(summary["near_duplicates"], "near-duplicate photo", "near-duplicate photos")
        groups = plural(summary["near_duplicate_groups"], "group", "groups")
        lines.append(f"{photos} in {groups} (each group kept in one split): see {out}/{contract.NEAR_DUPLICATES_FILE}")
    lines += [f"note: {n}" for n in summary.get("notes", [])]
    lines += [f"warning: {w}" for w in summary.get("warnings", [])]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from data import prepare
    from data.accounting import run_job
    from data.validate import DEFAULT_MAX_PIXELS

    if not 0.0 < args.eval_fraction < 1.0:
        print("error: --eval-fraction must be between 0 and 1", file=sys.stderr)
        return 2
    cfg = prepare.PrepareConfig(
        source=args.source,
        out=args.out.rstrip("/"),
        eval_fraction=args.eval_fraction,
        seed=args.seed,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        labels=_read_labels(args.labels) if args.labels else None,
        exclude=tuple(args.exclude or ()),
        beam_args=list(args.beam_args),
    )
    summary, code = run_job(prepare.run, cfg)
    if summary is None:
        return code
    print(format_summary(summary, cfg.out))
    if summary["rejected"]:
        print(
            f"{summary['rejected']} rejected: see {cfg.out}/{contract.REJECTED_FILE} for the reasons", file=sys.stderr
        )
    if summary["skipped"]:
        why = "system files, files outside class folders, --exclude"
        print(f"{summary['skipped']} skipped ({why}): see {cfg.out}/{contract.SKIPPED_FILE}", file=sys.stderr)
    problem = _problem(summary, args.max_rejected_fraction)
    if problem:  # the report files stay for reading, but no "wrote" line suggests the data is usable
        print(f"error: {problem}; the report is in {cfg.out}, the data is not usable", file=sys.stderr)
        return 1
    print(f"wrote {cfg.out}/train, {cfg.out}/eval, " + ", ".join(contract.PREPARE_FILES))
    return 0


def _problem(summary: dict, max_rejected_fraction: float) -> str | None:
    fraction = summary["rejected"] / summary["input"] if summary["input"] else 0.0
    if fraction > max_rejected_fraction:
        return f"{fraction:.1%} of inputs were rejected, more than --max-rejected-fraction {max_rejected_fraction:.1%}"
    for split in ("train", "eval"):
        if summary["splits"][split] == 0:
            return f"the {split} split is empty; add images or change --eval-fraction"
    return None
