"""Runs the tastebud pipeline locally: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner.

    ./dev python local_runner.py --data out/data --backbone efficientnet_lite0 --output out

It prints where the pushed model, the TensorBoard logs and the evaluation went. The run
itself (flags, paths, the pipeline) is pipeline/local_run.py; this is the command around it.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tastebud import quiet  # noqa: E402

quiet.configure(quiet.verbose_requested())  # before TensorFlow is imported

from pipeline.local_run import as_location, explain_failure, parse_args, paths, read_labels, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from preprocessing.backbones import BackboneWeightsError

    started, where = time.monotonic(), paths(args.output, args.model_name, args.metadata)
    try:
        runs = run(args)
    except BackboneWeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a component failed: say which and why, keep the traceback short
        print(explain_failure(e, where["metadata"]), file=sys.stderr)
        return 1
    from pipeline.results import sqlite_store
    from tastebud.run_report import report

    print(report(runs, where["serving"], read_labels(as_location(args.data)), sqlite_store(where["metadata"])))
    print(f"total wall time: {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
