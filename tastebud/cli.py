"""The `tastebud` command line. Each sub-command lives in its own module and is
imported only when used, so `tastebud --help` stays fast (TensorFlow is slow to load)."""

from __future__ import annotations

import argparse
import importlib
import sys

from preprocessing.contract import LABELS_FILE

DESCRIPTION = (
    "tastebud: labelled photos in, a blessed image classifier out. Prepare your photos, train with "
    "local_runner.py, then review the run and ask the model (in-process, TF Serving, a web page or in batch)."
)

# sub-command -> (module with add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("data.prepare_cli", f"turn a folder or CSV of labelled photos into TFRecords + {LABELS_FILE}"),
    "encode": ("tastebud.encode_cli", "write a TF Serving REST request (JSON, base64 images) for curl"),
    "predict": ("tastebud.predict_cli", "label images with a pushed model, in-process or via TF Serving"),
    "serve": ("tastebud.serve_cli", "a web page to upload photos and see the model's answer"),
    "review": ("tastebud.review_cli", "an HTML report of the latest evaluation: metrics, confusion, mistakes"),
    "tensorboard": ("tastebud.tensorboard_cli", "TensorBoard on the latest training run's logs (loopback)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tastebud", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        p.add_argument("--verbose", action="store_true", help="show TensorFlow/Beam/TFX logs (or TASTEBUD_LOG=debug)")
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    from tastebud import quiet

    quiet.configure(quiet.verbose_requested(argv))  # before any sub-command imports TensorFlow
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command and getattr(importlib.import_module(args._module), "ACCEPTS_BEAM_ARGS", False):
        args.beam_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.command:
        parser.print_help()
        return 2
    try:
        return importlib.import_module(args._module).run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
