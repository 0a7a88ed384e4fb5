"""`tastebud prepare` + local_runner.py for several data sets in one process, for the push-rate test.

    python -m tests.support.batch_pipelines PLAN.json RESULTS.json

PLAN.json: a list of {"source", "data", "output", "flags", "eval_fraction"}. Each entry
runs as the README runs it (prepare's Beam job, then local_runner.run with its flags);
one process saves the ~10 s of imports and start-up a run pays as its own command.
RESULTS.json: per entry, the run id, the wall time and local_runner's verdict text.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def run_one(entry: dict) -> dict:
    import local_runner
    from data.prepare import PrepareConfig
    from data.prepare import run as prepare
    from pipeline import results
    from tastebud.run_report import explain_verdict

    started = time.monotonic()
    prepare(PrepareConfig(source=entry["source"], out=entry["data"], eval_fraction=entry.get("eval_fraction", 0.1)))
    args = local_runner.parse_args(["--data", entry["data"], "--output", entry["output"], *entry.get("flags", [])])
    absl_handlers = list(logging.getLogger("absl").handlers)
    try:
        runs = local_runner.run(args)
    finally:  # each run installs its progress handler: keep one run's lines once
        logging.getLogger("absl").handlers = absl_handlers
    labels = local_runner.read_labels(entry["data"])
    return {
        "run_id": next(iter(runs.values())).run_id,
        "seconds": round(time.monotonic() - started, 1),
        "blessed": results.is_blessed(runs),
        "verdict": explain_verdict(runs, labels),
    }


def main(argv: list[str]) -> int:
    from tastebud import quiet

    quiet.configure(False)
    plan_path, results_path = argv
    with open(plan_path) as f:
        plan = json.load(f)
    done = []
    for entry in plan:
        done.append(run_one(entry))
        print(
            f"[batch] {entry['data']}: {'BLESSED' if done[-1]['blessed'] else 'NOT blessed'} in {done[-1]['seconds']} s"
        )
        with open(results_path, "w") as f:
            json.dump(done, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
