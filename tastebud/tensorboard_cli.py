"""`tastebud tensorboard [--output OUT]`: TensorBoard on the latest training run, loopback only."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from pipeline import configs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default=str(configs.LOCAL_OUTPUT), help="the pipeline's OUT folder (default out/)")
    p.add_argument("--port", type=int, default=6006)
    p.add_argument("--all-runs", action="store_true", help="every training run, not just the latest")


def run(args: argparse.Namespace) -> int:
    from tastebud.review import ReviewError, find_runs

    try:
        _, runs = find_runs(args.output, None)
    except ReviewError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logdir = runs["Trainer"].output("model_run").uri
    if args.all_runs:
        logdir = str(Path(logdir).parent)
    print(f"TensorBoard on http://127.0.0.1:{args.port}/ for {logdir} (Ctrl-C stops it)", flush=True)
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        logdir,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
    ]
    return subprocess.call(command)
