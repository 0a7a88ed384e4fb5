"""`tastebud serve (--model SERVING_DIR | --server HOST:PORT) [--host 127.0.0.1] [--port 8080] [--max-file-mb 32]
[--max-batch-size 16] [--batch-timeout-ms 2] [--max-enqueued-batches 4] [--num-batch-threads 1]
[--request-timeout-s 30]`.

The batching flags apply to --model (in-process micro-batching, tastebud/web/batching.py);
with --server, TF Serving batches on its own side (--enable_batching, batching_parameters.txt).
"""

from __future__ import annotations

import argparse
import sys

from pipeline.configs import MODEL_NAME
from tastebud.web import uploads
from tastebud.web.batching import BatchingParams

BATCHING = BatchingParams()  # the flags' defaults


def add_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="serving dir: newest version in-process, new versions picked up live")
    where.add_argument("--server", help="TF Serving at HOST:PORT (REST, or gRPC with --grpc)")
    p.add_argument("--grpc", action="store_true")
    p.add_argument("--model-name", default=MODEL_NAME)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--max-file-mb",
        type=float,
        default=uploads.MAX_FILE_MB,
        help=f"largest accepted photo in MB; fits a 48-MP phone JPEG (default {uploads.MAX_FILE_MB:g})",
    )
    p.add_argument(
        "--max-files", type=int, default=uploads.MAX_FILES, help="most photos per request (default %(default)s)"
    )
    p.add_argument(
        "--max-request-mb",
        type=float,
        default=uploads.MAX_REQUEST_MB,
        help="largest request (all photos together, held in memory); never below one largest photo "
        "(default %(default)s)",
    )
    p.add_argument("--watch-seconds", type=float, default=2.0, help="how often to look for a newly pushed version")
    add_batching_arguments(p)


def add_batching_arguments(p: argparse.ArgumentParser) -> None:
    """Micro-batching flags, named after TF Serving's batching parameters (--model only)."""
    g = p.add_argument_group("micro-batching (with --model; TF Serving batches on its own side)")
    g.add_argument(
        "--max-batch-size", type=int, default=BATCHING.max_batch_size, help="images per model call (%(default)s)"
    )
    g.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=BATCHING.batch_timeout_ms,
        help="longest a request waits for batch-mates, in ms (%(default)s)",
    )
    g.add_argument(
        "--max-enqueued-batches",
        type=int,
        default=BATCHING.max_enqueued_batches,
        help="queue bound: more than this many full batches of images waiting get 503 (%(default)s)",
    )
    g.add_argument(
        "--num-batch-threads", type=int, default=BATCHING.num_batch_threads, help="model calls at once (%(default)s)"
    )
    g.add_argument(
        "--request-timeout-s",
        type=float,
        default=BATCHING.request_timeout_s,
        help="a request not answered by then (queue + model) gets 504 (%(default)s)",
    )


def batching_params(args: argparse.Namespace):
    """The BatchingParams of the parsed flags. Raises ValueError for a value out of range."""
    from tastebud.web.batching import BatchingParams

    return BatchingParams(
        max_batch_size=args.max_batch_size,
        batch_timeout_ms=args.batch_timeout_ms,
        max_enqueued_batches=args.max_enqueued_batches,
        num_batch_threads=args.num_batch_threads,
        request_timeout_s=args.request_timeout_s,
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from tastebud.clients import LocalClient, make_client
    from tastebud.web.app import create_app
    from tastebud.web.uploads import Limits

    try:
        batching = batching_params(args) if args.model else None  # --server: TF Serving batches
        if args.model:
            client = LocalClient(args.model, batch_size=args.max_batch_size, watch_seconds=args.watch_seconds)
        else:
            client = make_client(None, args.server, args.grpc, args.model_name)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    limits = Limits.from_megabytes(args.max_file_mb, args.max_files, args.max_request_mb)
    app = create_app(client, limits, batching)
    print(f"tastebud serving on http://{args.host}:{args.port}/ (model version {client.version() or '?'})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", server_header=False)
    return 0
