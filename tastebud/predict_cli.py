"""`tastebud predict SOURCE... (--model SERVING_DIR | --server HOST:PORT [--grpc])`.

Without --out: labels the image files given and prints a table (or JSON lines).
With --out predictions.csv: batch labelling of files, folders and gs:// prefixes with
Beam's RunInference (tastebud.batch_predict); unknown --flags go to Beam, so the same
command runs on Dataflow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.configs import MODEL_NAME
from preprocessing.contract import TFLITE_FILE

ACCEPTS_BEAM_ARGS = True  # with --out: unknown --flags go to Beam (e.g. --runner=DataflowRunner --project=...)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "images", nargs="+", metavar="SOURCE", help="image files; with --out also folders and gs:// prefixes"
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--model",
        help="serving dir (<output>/serving/<model_name>): newest version, in-process; "
        f"or a phone model FILE.tflite (<output>/tflite/<model_name>/<version>/{TFLITE_FILE}), in LiteRT",
    )
    where.add_argument("--server", help="TF Serving at HOST:PORT (REST port 8501, or gRPC port 8500 with --grpc)")
    p.add_argument("--grpc", action="store_true", help="use gRPC PredictionService instead of REST")
    p.add_argument("--model-name", default=MODEL_NAME, help=f"model name on the server (default {MODEL_NAME})")
    p.add_argument("--batch-size", type=int, default=32, help="images per request (default 32)")
    p.add_argument("--json", action="store_true", help="one JSON object per image instead of a table")
    p.add_argument("--out", help="batch mode: write predictions here (CSV, or JSON Lines with --format jsonl)")
    p.add_argument("--format", default="csv", choices=["csv", "jsonl"], help="--out file format (default csv)")


def format_table(predictions) -> str:
    classes = list(predictions[0].scores) if predictions else []
    key_width = max([len("KEY")] + [len(p.key) for p in predictions])
    label_width = max([len("LABEL")] + [len(p.label) for p in predictions])
    header = f"{'KEY':<{key_width}}  {'LABEL':<{label_width}}  {'SCORE':>6}  " + "  ".join(
        f"{c:>{max(6, len(c))}}" for c in classes
    )
    lines = [header]
    for p in predictions:
        scores = "  ".join(f"{p.scores[c]:>{max(6, len(c))}.3f}" for c in classes)
        lines.append(f"{p.key:<{key_width}}  {p.label:<{label_width}}  {p.score:>6.3f}  {scores}")
    return "\n".join(lines)


def run_batch(args: argparse.Namespace) -> int:
    from data.accounting import run_job
    from preprocessing.contract import NOTES_FILE, REJECTED_FILE, SKIPPED_FILE
    from tastebud import batch_predict

    if not args.model:
        print(
            "error: batch labelling (--out) runs the model in Beam: give --model SERVING_DIR or FILE.tflite",
            file=sys.stderr,
        )
        return 2
    cfg = batch_predict.BatchConfig(args.images, args.model, args.out, args.format, beam_args=list(args.beam_args))
    summary, code = run_job(batch_predict.run, cfg)
    if summary is None:
        return code
    print(f"{'label':<20} {'images':>7}")
    for label, count in summary["labels"].items():
        print(f"{label:<20} {count:>7}")
    print(
        f"input {summary['input']} = predicted {summary['predicted']} + rejected {summary['rejected']}"
        f" + skipped {summary['skipped']}"
    )
    notes, rejected = batch_predict.beside(args.out, NOTES_FILE), batch_predict.beside(args.out, REJECTED_FILE)
    if summary["noted"]:
        print(f"note: {summary['noted']} image(s) decoded with a warning from the image decoder: see {notes}")
    if not summary["predicted"]:  # a mistyped folder must not look like success
        print(f"error: no image was labelled: see {rejected}", file=sys.stderr)
        return 1
    skipped = batch_predict.beside(args.out, SKIPPED_FILE)
    print(f"wrote {args.out} and {rejected}, {skipped}, {notes}")
    return 0


def run(args: argparse.Namespace) -> int:
    from tastebud.clients import ServerError, make_client
    from tastebud.tflite_model import phone_model_in

    if args.model:  # OUT/tflite/<model>/ or one version's folder: its model.tflite
        args.model = phone_model_in(args.model)
    if args.out:
        return run_batch(args)
    if args.beam_args:
        print(f"error: unrecognized arguments: {' '.join(args.beam_args)} (Beam flags go with --out)", file=sys.stderr)
        return 2
    from tastebud.quiet import native_stderr_to_text
    from tastebud.requests_format import read_images

    try:
        found = [path for path in args.images if Path(path).is_file()]
        # A typo among real photos is one more rejection (as in `prepare`); no photo at all is a usage error.
        missing = [(path, "file not found") for path in args.images if found and path not in found]
        images, keys = read_images(found or args.images)
        images, keys, rejected, noted = readable_images(images, keys)
        rejected = missing + rejected  # a missing file is one more rejection, as in `prepare`
        for key, reason in rejected:
            print(f"rejected {key}: {reason}", file=sys.stderr)
        for key, warning in noted:
            print(f"note: {key} decoded with a warning: {warning}", file=sys.stderr)
        if not images:
            return 1
        client = make_client(args.model, args.server, args.grpc, args.model_name, batch_size=args.batch_size)
        with native_stderr_to_text():  # the graph's decoder repeats the warnings just noted
            version, predictions = client.predict(images, keys)
    except (FileNotFoundError, ServerError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # e.g. a file that is not an image reaching the model
        print(f"error: prediction failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}", file=sys.stderr)
        return 1
    if args.json:
        for p in predictions:
            print(json.dumps(p.as_json()))
    else:
        print(format_table(predictions))
        print(f"(model version {version or 'unknown'})", file=sys.stderr)
    return 1 if rejected else 0


def readable_images(images: list[bytes], keys: list[str]) -> tuple[list[bytes], list[str], list, list]:
    """(images, keys) the model can decode, (key, reason) for the others, and (key, warning)
    for images the decoder read with a warning; checked as `tastebud prepare` checks
    (data.validate.check_image): one bad file neither stops the others nor reaches the
    model as a bare TensorFlow error."""
    from data.validate import check_image

    checks = [check_image(data, name=key, capture_warnings=True) for data, key in zip(images, keys, strict=True)]
    good = [(data, key) for data, key, check in zip(images, keys, checks, strict=True) if check.ok]
    rejected = [(key, check.reason) for key, check in zip(keys, checks, strict=True) if not check.ok]
    noted = [(key, check.warning) for key, check in zip(keys, checks, strict=True) if check.warning]
    return [data for data, _ in good], [key for _, key in good], rejected, noted
