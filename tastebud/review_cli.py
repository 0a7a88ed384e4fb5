"""`tastebud review [--output OUT] [--run latest|ID] [--open]`: an HTML report + a text summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline import configs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default=str(configs.LOCAL_OUTPUT), help="the pipeline's OUT folder (default out/)")
    p.add_argument("--run", default="latest", help="pipeline run id, or latest (default)")
    p.add_argument("--report", help="where to write the HTML (default OUT/review/review.html)")
    p.add_argument("--open", action="store_true", help="open the report in a browser")


def run(args: argparse.Namespace) -> int:
    from tastebud.review import ReviewError, build_review, text_summary
    from tastebud.review_html import write_report

    try:
        review = build_review(args.output, None if args.run == "latest" else args.run)
    except ReviewError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = write_report(review, Path(args.report or Path(args.output) / "review" / "review.html"))
    print(text_summary(review))
    print(f"report: {report.resolve()}")
    if review.health:
        from tastebud.review_health import copy_csv

        print(f"data health: copied the full list to {copy_csv(review.health, report.parent).resolve()}")
    if args.open:
        import webbrowser

        webbrowser.open(report.resolve().as_uri())
    return 0
