"""Batch labelling throughput: `tastebud predict --out` (Beam RunInference) vs. the in-process batch path.

Both label the same generated photos with the same pushed model, side by side in one
run: (a) the whole Beam job as a user runs it (listing, reading and checking each file,
RunInference batches of up to 32, writing and checking the CSV); (b) LocalModel.predict
on batches of 32 already-read images (no checks, no files): the limit for this model.

    ./dev python -m bench.batch_bench --model out/serving/tastebud [--images 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import REPO, log, variants


def write_photos(folder: Path, count: int) -> list[Path]:
    paths = []
    for i, (_, label, data) in enumerate(variants(count)):
        path = folder / label / f"photo_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def batch_job(model: str, folder: Path, out: Path) -> float:
    from tastebud import batch_predict

    started = time.monotonic()
    summary = batch_predict.run(batch_predict.BatchConfig([str(folder)], model, str(out)))
    seconds = time.monotonic() - started
    assert summary["predicted"] == summary["input"], summary
    return seconds


def in_process(model: str, paths: list[Path], batch: int = 32) -> float:
    from tastebud.inference import LocalModel

    local = LocalModel(model)
    images = [p.read_bytes() for p in paths]
    local.predict(images[:batch])  # warm-up: tracing, first allocation
    started = time.monotonic()
    for i in range(0, len(images), batch):
        local.predict(images[i : i + batch])
    return time.monotonic() - started


def run(model: str, count: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        paths = write_photos(Path(work) / "photos", count)
        log(f"batch labelling {count} photos with Beam RunInference")
        beam_s = batch_job(model, Path(work) / "photos", Path(work) / "labels" / "predictions.csv")
        log("the same photos in-process, batches of 32")
        local_s = in_process(model, paths)
    return {
        "images": count,
        "beam_runinference_s": round(beam_s, 1),
        "beam_runinference_img_s": round(count / beam_s, 1),
        "in_process_img_s": round(count / local_s, 1),
        "beam_vs_in_process": round(local_s / beam_s, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="serving dir of a pushed model")
    p.add_argument("--images", type=int, default=1000)
    args = p.parse_args()
    from tastebud import quiet

    quiet.configure(verbose=False)
    result = run(args.model, args.images)
    print(json.dumps(result, indent=2))
    (REPO / "bench" / "results_batch.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
