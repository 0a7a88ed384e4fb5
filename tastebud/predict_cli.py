"""`tastebud predict IMAGE... (--model SERVING_DIR | --server HOST:PORT [--grpc])`."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.configs import MODEL_NAME


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP, WebP)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="serving dir (<output>/serving/<model_name>): newest version, in-process")
    where.add_argument("--server", help="TF Serving at HOST:PORT (REST port 8501, or gRPC port 8500 with --grpc)")
    p.add_argument("--grpc", action="store_true", help="use gRPC PredictionService instead of REST")
    p.add_argument("--model-name", default=MODEL_NAME, help=f"model name on the server (default {MODEL_NAME})")
    p.add_argument("--batch-size", type=int, default=32, help="images per request (default 32)")
    p.add_argument("--json", action="store_true", help="one JSON object per image instead of a table")


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


def run(args: argparse.Namespace) -> int:
    from tastebud.clients import ServerError, make_client
    from tastebud.requests_format import read_images

    try:
        images, keys = read_images(args.images)
        client = make_client(args.model, args.server, args.grpc, args.model_name, batch_size=args.batch_size)
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
    return 0
