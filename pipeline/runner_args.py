"""The flags and settings both runners share (local_runner.py, vertex_runner.py): the blessing,
tuning and data-health flags, --tflite, --verbose, and the settings dataclasses (pipeline/settings.py) they
build from them. With the CLI, the runners are the only readers of environment variables."""

from __future__ import annotations

import argparse
import os

from models.settings import HeadSettings, TunerSettings
from pipeline import configs
from pipeline.blessing import compute_bar, compute_holdout
from pipeline.settings import BlessingSettings, PhoneSettings


def env_default(name: str, default: str) -> str:
    """A flag's default from the environment variable `name`, else `default`."""
    return os.environ.get(name) or default


def add_verbose_argument(p: argparse.ArgumentParser) -> None:
    """--verbose; tastebud.quiet reads it from sys.argv before TensorFlow is imported."""
    p.add_argument("--verbose", action="store_true", help="show TensorFlow/Beam/TFX logs too (or TASTEBUD_LOG=debug)")


def add_blessing_arguments(p: argparse.ArgumentParser) -> None:
    """The blessing, tuning and data-health flags, shared with vertex_runner.py."""
    p.add_argument(
        "--min-accuracy",
        type=float,
        default=configs.EVAL_ACCURACY_THRESHOLD,
        help="a business bar on the out-of-fold accuracy on top of the significance bar (the stricter applies)",
    )
    p.add_argument(
        "--significance",
        type=float,
        default=configs.BLESSING_SIGNIFICANCE,
        help="bless only when a one-sided binomial test of the out-of-fold accuracy against the majority-class "
        "rate gives p < this (default %(default)s)",
    )
    p.add_argument(
        "--new-baseline",
        action="store_true",
        help="start a new baseline: bless on the accuracy bar alone, without comparing with the last blessed model",
    )
    p.add_argument("--no-tune", action="store_true", help="no Tuner: train configs.HYPERPARAMETERS as they are")
    p.add_argument(
        "--no-data-health",
        action="store_true",
        help="no DataHealth report (suspect labels, near-duplicates, outliers, dark/blank/blurry photos)",
    )
    p.add_argument(
        "--tuner-trials",
        type=int,
        default=configs.TUNER_MAX_TRIALS,
        help="the search's budget: this many trials, on any machine (default %(default)s)",
    )
    p.add_argument(
        "--tuner-budget",
        type=float,
        default=configs.TUNER_BUDGET_SECONDS,
        metavar="SECONDS",
        help="opt-in: also start no trial after this much search time; the search (and so the model) then "
        "depends on the machine's speed and load (default: no time limit)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=configs.SEED,
        help="seeds the Tuner's search and folds and the head's training: the same data, settings and seed "
        "give the same model (default %(default)s)",
    )


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"the seed must be 0 or more, got {value}")
    return value


def head_settings(args: argparse.Namespace, keras_verbosity: int = 0) -> HeadSettings:
    """The head's settings from the shared flags (--seed, --no-tune, --tuner-*, --train-steps)."""
    return HeadSettings(
        seed=args.seed,
        tune=configs.TUNE and not args.no_tune,
        tuner=TunerSettings(max_trials=args.tuner_trials, budget_s=args.tuner_budget, seed=args.seed),
        train_steps=args.train_steps,
        eval_steps=getattr(args, "eval_steps", configs.EVAL_STEPS),
        keras_verbosity=keras_verbosity,
    )


def blessing_settings(args: argparse.Namespace, labelled: dict[str, int], eval_count: int) -> BlessingSettings:
    """The bar from every labelled photo's count per label, and the eval split's floor under it."""
    bar = compute_bar(labelled, args.significance, args.min_accuracy)
    return BlessingSettings(bar, compute_holdout(eval_count, bar), compare_with_last_blessed=not args.new_baseline)


def add_phone_arguments(p: argparse.ArgumentParser, root: str) -> None:
    """--tflite and its quantisation, shared with vertex_runner.py (root: where tflite/ goes)."""
    p.add_argument(
        "--tflite",
        action="store_true",
        help="also export the pushed model for phones: a quantised LiteRT .tflite, pushed to "
        f"{root}/tflite/<model-name>/<version>/ only if its eval accuracy is within 1 point of the SavedModel's",
    )
    p.add_argument(
        "--tflite-quantization",
        default=configs.PHONE_QUANTIZATION,
        choices=["dynamic", "int8", "float16"],
        help="dynamic (int8 weights, default), int8 (weights and activations, calibrated on train photos), float16",
    )


def phone_settings(args: argparse.Namespace, base_directory: str) -> PhoneSettings | None:
    """PhoneExport's settings, or None without --tflite."""
    return PhoneSettings(base_directory, args.tflite_quantization) if args.tflite else None
