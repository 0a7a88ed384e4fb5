"""`tastebud encode IMAGE... -o request.json`: a TF Serving REST request for curl.

curl -d @request.json http://localhost:8501/v1/models/tastebud:predict
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="image files; each one's key is its path")
    p.add_argument("-o", "--output", default="-", help="request file (default: standard output)")


def run(args: argparse.Namespace) -> int:
    from tastebud.requests_format import read_images, rest_request

    try:
        images, keys = read_images(args.images)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(rest_request(images, keys))
    if args.output == "-":
        print(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
        print(f"wrote {args.output}: {len(images)} image(s)", file=sys.stderr)
    return 0
