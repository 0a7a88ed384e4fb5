"""Reproduces, with Beam alone, the data loss behind `prepare`'s lost photos.

    ./dev python scripts/beam_multithreading_loss.py --runs 20 --mode multi_threading
    ./dev python scripts/beam_multithreading_loss.py --runs 20 --mode in_memory

Each run pushes N keyed elements of SIZE random bytes through a slow DoFn (it sleeps,
as reading and decoding a photo does) into a GroupByKey, and counts the groups that come
out. Nothing of tastebud is imported. With Beam 2.77's DirectRunner in `multi_threading`
mode (in-process gRPC workers), some runs lose elements at the GroupByKey without any
error; `in_memory` and `multi_processing` do not. Prints one line a run and the loss rate.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions


class SlowRead(beam.DoFn):
    def __init__(self, size: int, sleep_s: float):
        self.size, self.sleep_s = size, sleep_s

    def process(self, index: int):
        time.sleep(self.sleep_s)  # releases the GIL, like file reads and TF's decoder
        data = os.urandom(self.size)
        yield hashlib.sha256(data).hexdigest(), (index, data)


def one_run(mode: str, workers: int, n: int, size: int, sleep_s: float) -> int:
    """Runs the pipeline once; returns the number of groups the GroupByKey produced (n when nothing is lost)."""
    result = os.path.join(tempfile.mkdtemp(), "groups")  # a file: multi_processing workers are other processes
    options = PipelineOptions(
        ["--runner=DirectRunner", f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
    )
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | beam.Create(list(range(n)), reshuffle=True)
            | beam.ParDo(SlowRead(size, sleep_s))
            | beam.GroupByKey()
            | beam.combiners.Count.Globally()
            | beam.Map(lambda count: open(result, "w").write(str(count)))
        )
    with open(result) as f:
        return int(f.read())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--mode", default="multi_threading", choices=["in_memory", "multi_threading", "multi_processing"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--elements", type=int, default=550)
    p.add_argument("--size", type=int, default=40_000, help="bytes per element (a phone photo: 30-100 KB)")
    p.add_argument("--sleep", type=float, default=0.01, help="seconds each element takes in the DoFn")
    args = p.parse_args()
    lossy = 0
    for run in range(1, args.runs + 1):
        groups = one_run(args.mode, args.workers, args.elements, args.size, args.sleep)
        lossy += groups != args.elements
        print(f"run {run}: {args.elements} in, {groups} out", flush=True)
    print(f"{args.mode}, {args.workers} workers: {lossy} of {args.runs} runs lost elements")


if __name__ == "__main__":
    main()
