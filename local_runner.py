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
    p.add_argument(
        "--train-steps", type=int, default=configs.TRAIN_STEPS, help="override the tuned epochs with a step count"
    )
    p.add_argument("--eval-steps", type=int, default=configs.EVAL_STEPS)
    add_blessing_arguments(p)
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


def add_blessing_arguments(p: argparse.ArgumentParser) -> None:
    """The blessing and tuning flags, shared with vertex_runner.py."""
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
        "--tuner-budget",
        type=float,
        default=configs.TUNER_BUDGET_SECONDS,
        help="seconds of hyperparameter search before no new trial starts (default %(default)s)",
    )
    p.add_argument("--tuner-trials", type=int, default=configs.TUNER_MAX_TRIALS, help="at most this many trials")


def tuner_settings(args: argparse.Namespace) -> dict:
    return {"budget_s": args.tuner_budget, "max_trials": args.tuner_trials}


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


def blessing_gate(args: argparse.Namespace, data: str, labels: list[str], metadata: str):
    """The record the run is judged against: the out-of-fold bar from every labelled photo's
    count, the eval split's floor, and whether to compare with the last blessed model."""
    from pipeline.baseline import (
        Record,
        eval_counts,
        labelled_counts,
        latest_blessed_labels,
        latest_blessed_signatures,
        plan_baseline,
    )
    from pipeline.blessing import compute_bar, compute_holdout

    bar = compute_bar(labelled_counts(data), args.significance, args.min_accuracy)
    holdout = compute_holdout(sum(eval_counts(data).values()), bar)
    previous, signatures = latest_blessed_labels(metadata), latest_blessed_signatures(metadata)
    return Record(bar, holdout, plan_baseline(labels, previous, args.new_baseline, signatures))


def run(args: argparse.Namespace) -> dict:
    """Builds and runs the pipeline; returns the components of this run (from ML Metadata)."""
    from tfx import v1 as tfx

    from pipeline import baseline, results
    from pipeline.pipeline import create_pipeline
    from preprocessing.backbones import get_backbone

    # Fail before any work when the backbone's weights are missing.
    get_backbone(args.backbone).resolve_weights(args.backbone_weights)
    p = paths(args.output, args.model_name)
    data = str(Path(args.data).resolve())
    labels = read_labels(data)
    record = blessing_gate(args, data, labels, p["metadata"])
    pipeline = create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=p["pipeline_root"],
        data_dir=data,
        labels=labels,
        serving_model_dir=p["serving"],
        backbone=args.backbone,
        backbone_weights=args.backbone_weights,
        train_steps=args.train_steps,
        eval_steps=args.eval_steps,
        accuracy_bar=record.holdout.lower_bound,
        cv_needed_correct=-1 if record.bar.needed_correct is None else record.bar.needed_correct,
        photo_count=record.bar.photo_count,
        compare_with_baseline=record.plan.compare,
        tune=configs.TUNE and not args.no_tune,
        tuner_settings=tuner_settings(args),
        enable_cache=not args.no_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(p["metadata"]),
        beam_pipeline_args=configs.local_beam_args(args.direct_running_mode, args.direct_num_workers),
    )
    quiet.ComponentProgress.install(quiet.verbose_requested([]))  # live '[pipeline] X done in N s' lines
    tfx.orchestration.LocalDagRunner().run(pipeline)
    store = results.sqlite_store(p["metadata"])
    baseline.write_record(p["pipeline_root"], results.run_ids(store)[-1], record)
    return results.component_runs(store)


def report(runs: dict, serving_dir: str, labels: list[str] | None = None) -> str:
    from pipeline import results

    lines = ["component                         state      seconds"]
    for node_id, r in runs.items():
        lines.append(f"{node_id:<33} {r.state:<10} {r.seconds:7.1f}")
    trainer, evaluator, pusher = runs.get("Trainer"), runs.get("Evaluator"), runs.get("Pusher")
    if trainer and trainer.output("model_run"):
        lines.append(f"TensorBoard logs: {trainer.output('model_run').uri}")
    if runs.get("Tuner") and runs["Tuner"].output("tuner_results"):
        lines.append(f"tuner trials: {runs['Tuner'].output('tuner_results').uri}/tuner_results.json")
    if evaluator and evaluator.output("evaluation"):
        verdict = "BLESSED" if results.is_blessed(runs) else "NOT blessed"
        lines.append(f"evaluation: {evaluator.output('evaluation').uri} ({verdict})")
        if labels is not None:
            lines.append(explain_verdict(runs, labels))
    pushed = pusher.output("pushed_model") if pusher else None
    if pushed and pushed.properties.get("pushed"):
        lines.append(f"pushed model: {pushed.properties.get('pushed_destination')}")
    else:
        lines.append(f"no model pushed by this run; serving dir unchanged: {serving_dir}")
    return "\n".join(lines)


def explain_verdict(runs: dict, labels: list[str]) -> str:
    """The blessing decision in words, from the run's evaluation, its evidence and its recorded bar."""
    from pipeline import baseline, results
    from pipeline.evaluation import summarize
    from pipeline.verdict import explain

    evaluation = runs["Evaluator"].output("evaluation")
    summary = summarize(evaluation.uri, labels)
    record = baseline.read_record(str(Path(evaluation.uri).parents[2]), runs["Evaluator"].run_id)
    if record is None:
        return summary.text()
    return explain(record, summary, results.is_blessed(runs), results.cv_correct(runs))


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
    print(report(runs, paths(args.output, args.model_name)["serving"], read_labels(str(Path(args.data).resolve()))))
    print(f"total wall time: {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
