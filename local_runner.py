"""Runs the tastebud pipeline locally: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner.

    ./dev python local_runner.py --data out/data --backbone efficientnet_lite0 --output out

It prints where the pushed model, the TensorBoard logs and the evaluation went.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tastebud import quiet  # noqa: E402

quiet.configure(quiet.verbose_requested())  # before TensorFlow is imported

from pipeline import configs  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(configs.LOCAL_OUTPUT / "data"), help="DATA_DIR written by `tastebud prepare`")
    p.add_argument("--output", default=str(configs.LOCAL_OUTPUT), help="pipeline root, metadata and serving dir")
    p.add_argument("--backbone", default=configs.BACKBONE, help="inception_v3 (default) or efficientnet_lite0")
    p.add_argument("--backbone-weights", default=configs.BACKBONE_WEIGHTS, help="weights file for the backbone")
    p.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS)
    p.add_argument("--eval-steps", type=int, default=configs.EVAL_STEPS)
    p.add_argument(
        "--min-accuracy",
        type=float,
        default=configs.EVAL_ACCURACY_THRESHOLD,
        help="bless only at or above this eval accuracy",
    )
    p.add_argument("--model-name", default=configs.MODEL_NAME, help="serving/<model-name>/<version>")
    p.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    p.add_argument(
        "--direct-running-mode",
        default=configs.DIRECT_RUNNING_MODE,
        # Not multi_threading: Beam's DirectRunner loses elements in that mode (see README).
        choices=["in_memory", "multi_processing"],
    )
    p.add_argument("--direct-num-workers", type=int, default=configs.DIRECT_NUM_WORKERS)
    p.add_argument("--no-cache", action="store_true", help="recompute every component")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow/Beam/TFX logs too (or TASTEBUD_LOG=debug)")
    return p.parse_args(argv)


def read_labels(data_dir: str) -> list[str]:
    import tensorflow as tf

    path = f"{data_dir}/{configs.LABELS_FILE}"
    if not tf.io.gfile.exists(path):
        raise SystemExit(f"error: {path} not found; run `tastebud prepare SOURCE --out {data_dir}` first")
    with tf.io.gfile.GFile(path) as f:
        return [line.strip() for line in f if line.strip()]


def paths(output: str, model_name: str) -> dict[str, str]:
    out = Path(output).resolve()
    return {
        "pipeline_root": str(out / "pipeline"),
        "metadata": str(out / "metadata.sqlite"),
        "serving": str(out / "serving" / model_name),
    }


def run(args: argparse.Namespace) -> dict:
    """Builds and runs the pipeline; returns the components of this run (from ML Metadata)."""
    from tfx import v1 as tfx

    from pipeline import results
    from pipeline.pipeline import create_pipeline
    from preprocessing.backbones import get_backbone

    # Fail before any work when the backbone's weights are missing.
    get_backbone(args.backbone).resolve_weights(args.backbone_weights)
    p = paths(args.output, args.model_name)
    data = str(Path(args.data).resolve())
    pipeline = create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=p["pipeline_root"],
        data_dir=data,
        labels=read_labels(data),
        serving_model_dir=p["serving"],
        backbone=args.backbone,
        backbone_weights=args.backbone_weights,
        train_steps=args.train_steps,
        eval_steps=args.eval_steps,
        eval_accuracy_threshold=args.min_accuracy,
        enable_cache=not args.no_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(p["metadata"]),
        beam_pipeline_args=configs.local_beam_args(args.direct_running_mode, args.direct_num_workers),
    )
    quiet.ComponentProgress.install(quiet.verbose_requested([]))  # live '[pipeline] X done in N s' lines
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return results.component_runs(results.sqlite_store(p["metadata"]))


def report(runs: dict, serving_dir: str) -> str:
    lines = ["component                         state      seconds"]
    for node_id, r in runs.items():
        lines.append(f"{node_id:<33} {r.state:<10} {r.seconds:7.1f}")
    trainer, evaluator, pusher = runs.get("Trainer"), runs.get("Evaluator"), runs.get("Pusher")
    if trainer and trainer.output("model_run"):
        lines.append(f"TensorBoard logs: {trainer.output('model_run').uri}")
    if evaluator and evaluator.output("evaluation"):
        blessing = evaluator.output("blessing")
        verdict = "BLESSED" if blessing and blessing.properties.get("blessed") else "NOT blessed"
        lines.append(f"evaluation: {evaluator.output('evaluation').uri} ({verdict})")
    pushed = pusher.output("pushed_model") if pusher else None
    if pushed and pushed.properties.get("pushed"):
        lines.append(f"pushed model: {pushed.properties.get('pushed_destination')}")
    else:
        lines.append(f"no model pushed by this run; serving dir unchanged: {serving_dir}")
    return "\n".join(lines)


def explain_failure(error: Exception, output: str) -> str:
    """One clear paragraph instead of a Beam traceback: which component failed, why, what to do."""
    from pipeline import results

    failed = "?"
    metadata = Path(output) / "metadata.sqlite"
    if metadata.exists():
        runs = results.component_runs(results.sqlite_store(str(metadata)))
        failed = next((name for name, r in runs.items() if r.state == "FAILED"), failed)
    lines = [line for line in str(error).splitlines() if line.strip()]
    detail = next((line for line in lines if "Error" in line or "error" in line), lines[-1] if lines else "")
    message = f"error: the pipeline failed in {failed}: {type(error).__name__}: {detail.strip()[:400]}"
    if "decode" in str(error).lower() or "image" in str(error).lower():
        message += (
            "\nAn image in the data does not decode. Data written by `tastebud prepare` is checked "
            "image by image; run it on your source to find and reject the bad file. Nothing was pushed."
        )
    return message


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from preprocessing.backbones import BackboneWeightsError

    started = time.monotonic()
    try:
        runs = run(args)
    except BackboneWeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a component failed: say which and why, keep the traceback short
        print(explain_failure(e, args.output), file=sys.stderr)
        return 1
    print(report(runs, paths(args.output, args.model_name)["serving"]))
    print(f"total wall time: {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
