"""`tastebud serve (--model SERVING_DIR | --server HOST:PORT) [--host 127.0.0.1] [--port 8080]`."""

from __future__ import annotations

import argparse
import sys

from pipeline.configs import MODEL_NAME


def add_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="serving dir: newest version in-process, new versions picked up live")
    where.add_argument("--server", help="TF Serving at HOST:PORT (REST, or gRPC with --grpc)")
    p.add_argument("--grpc", action="store_true")
    p.add_argument("--model-name", default=MODEL_NAME)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--max-file-mb", type=float, default=10.0, help="largest accepted photo (default 10 MB)")
    p.add_argument("--max-files", type=int, default=16, help="most photos per request (default 16)")
    p.add_argument("--watch-seconds", type=float, default=2.0, help="how often to look for a newly pushed version")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from tastebud.clients import LocalClient, make_client
    from tastebud.web.app import create_app
    from tastebud.web.uploads import Limits

    try:
        if args.model:
            client = LocalClient(args.model, watch_seconds=args.watch_seconds)
        else:
            client = make_client(None, args.server, args.grpc, args.model_name)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    limits = Limits(max_file_bytes=int(args.max_file_mb * 1024 * 1024), max_files=args.max_files)
    app = create_app(client, limits)
    print(f"tastebud serving on http://{args.host}:{args.port}/ (model version {client.version() or '?'})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", server_header=False)
    return 0
