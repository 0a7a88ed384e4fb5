"""A local run of the pipeline (LocalDagRunner, SQLite ML Metadata, Beam DirectRunner): its
flags, where it writes, and the run itself. local_runner.py is the command around it; the
demo (tastebud/demo.py) runs it too. Call tastebud.quiet.configure before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import configs
from pipeline.runner_args import (
    add_blessing_arguments,
    add_phone_arguments,
    add_verbose_argument,
    blessing_settings,
    env_default,
    head_settings,
    phone_settings,
)
from pipeline.settings import PipelineSettings
from preprocessing.contract import LABELS_FILE, read_labels_file
from preprocessing.settings import TransformSettings
from tastebud import quiet

DESCRIPTION = "Runs the tastebud pipeline locally: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=DESCRIPTION)
    p.add_argument("--data", default=str(configs.LOCAL_OUTPUT / "data"), help="DATA_DIR written by `tastebud prepare`")
    p.add_argument(
        "--output", default=str(configs.LOCAL_OUTPUT), help="pipeline root, metadata and serving dir (local or gs://)"
    )
    p.add_argument("--metadata", help="ML Metadata SQLite file (default OUTPUT/metadata.sqlite, ./ for a gs:// OUTPUT)")
    p.add_argument(
        "--backbone",
        default=env_default("TASTEBUD_BACKBONE", configs.BACKBONE),
        help="inception_v3 (default) or efficientnet_lite0 (TASTEBUD_BACKBONE)",
    )
    p.add_argument("--backbone-weights", default=configs.BACKBONE_WEIGHTS, help="weights file for the backbone")
    p.add_argument(
        "--train-steps", type=int, default=configs.TRAIN_STEPS, help="override the tuned epochs with a step count"
    )
    p.add_argument("--eval-steps", type=int, default=configs.EVAL_STEPS)
    add_blessing_arguments(p)
    p.add_argument(
        "--model-name",
        default=env_default("TASTEBUD_MODEL_NAME", configs.MODEL_NAME),
        help="serving/<model-name>/<version> (TASTEBUD_MODEL_NAME)",
    )
    p.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    p.add_argument(
        "--direct-running-mode",
        default=configs.DIRECT_RUNNING_MODE,
        # Not multi_threading: Beam's DirectRunner loses elements in that mode (see README).
        choices=["in_memory", "multi_processing"],
    )
    p.add_argument("--direct-num-workers", type=int, default=configs.DIRECT_NUM_WORKERS)
    add_phone_arguments(p, "OUTPUT")
    p.add_argument("--no-cache", action="store_true", help="recompute every component and every embedding")
    add_verbose_argument(p)
    return p.parse_args(argv)


def read_labels(data_dir: str) -> list[str]:
    """dict.txt through Beam's FileSystems, as `prepare` wrote it (a local path or gs://)."""
    from apache_beam.io.filesystems import FileSystems

    path = f"{data_dir}/{LABELS_FILE}"
    if not FileSystems.exists(path):
        raise SystemExit(f"error: {path} not found; run `tastebud prepare SOURCE --out {data_dir}` first")
    return read_labels_file(path, FileSystems.open)


def as_location(path: str) -> str:
    """A URI (gs://...) as given; a local path made absolute. Never Path() on a URI ("gs:/b")."""
    return path.rstrip("/") if "://" in path else str(Path(path).resolve())


def paths(output: str, model_name: str, metadata: str | None = None) -> dict[str, str]:
    """Where the run writes. ML Metadata is a local SQLite file: OUTPUT/metadata.sqlite, or
    ./metadata.sqlite when OUTPUT is a URI (SQLite cannot live in a bucket)."""
    out = as_location(output)
    default_metadata = "metadata.sqlite" if "://" in out else f"{out}/metadata.sqlite"
    return {
        "pipeline_root": f"{out}/pipeline",
        "metadata": str(Path(metadata or default_metadata).resolve()),
        "serving": f"{out}/serving/{model_name}",
        "tflite": f"{out}/{configs.PHONE_DIR}/{model_name}",
    }


def settings(args: argparse.Namespace, data: str, labels: list[str], p: dict[str, str]) -> PipelineSettings:
    """This run's settings from the flags: the bar from the data's photo counts (summary.json)."""
    from data.counts import eval_counts, labelled_counts

    return PipelineSettings(
        name=args.pipeline_name,
        root=p["pipeline_root"],
        data_dir=data,
        labels=tuple(labels),
        serving_dir=p["serving"],
        transform=TransformSettings(args.backbone, args.backbone_weights, reuse_embeddings=not args.no_cache),
        head=head_settings(args, quiet.keras_verbosity()),
        blessing=blessing_settings(args, labelled_counts(data), sum(eval_counts(data).values())),
        data_health=not args.no_data_health,
        phone=phone_settings(args, p["tflite"]),
        enable_cache=not args.no_cache,
        beam_pipeline_args=tuple(configs.local_beam_args(args.direct_running_mode, args.direct_num_workers)),
    )


CLOUD_EXTENSIONS = (  # tfx.v1's Vertex AI and BigQuery extensions: google-cloud-aiplatform, about 1.6 s to import
    "tfx.v1.extensions.google_cloud_ai_platform",
    "tfx.v1.extensions.google_cloud_big_query",
)


class _LazyCloudExtensions:
    """A meta-path finder that loads tfx.v1's cloud extensions lazily (importlib.util.LazyLoader):
    tfx.v1 imports them eagerly and a local run never uses them; the first attribute access loads
    one, so tfx.v1 stays whole."""

    def find_spec(self, name, path=None, target=None):
        import importlib.util
        import sys

        if name not in CLOUD_EXTENSIONS:
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else getattr(finder, "find_spec", lambda *a: None)(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


def defer_cloud_extensions() -> None:
    """Before tfx.v1 is imported: its cloud extensions load on first use (a no-op once imported)."""
    import sys

    if not any(isinstance(finder, _LazyCloudExtensions) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LazyCloudExtensions())


def run(args: argparse.Namespace, last: str | None = None, **changes) -> dict:
    """Builds and runs the pipeline; returns the components of this run (from ML Metadata).
    last: run only that node and what it needs (pipeline.upstream_of); changes: PipelineSettings
    fields to replace (e.g. embeddings_dir, to run Vertex's way of reusing embeddings here)."""
    defer_cloud_extensions()
    from dataclasses import replace

    from tfx import v1 as tfx

    from pipeline import results
    from pipeline.pipeline import create_pipeline, upstream_of
    from preprocessing.backbones import get_backbone

    # Fail before any work when the backbone's weights are missing.
    get_backbone(args.backbone).resolve_weights(args.backbone_weights)
    p = paths(args.output, args.model_name, args.metadata)
    data = as_location(args.data)
    pipeline = create_pipeline(
        replace(settings(args, data, read_labels(data), p), **changes),
        tfx.orchestration.metadata.sqlite_metadata_connection_config(p["metadata"]),
    )
    global PROGRESS
    PROGRESS = quiet.ComponentProgress.install(quiet.verbose_requested([]))  # live '[pipeline] X done in N s' lines
    tfx.orchestration.LocalDagRunner().run(upstream_of(pipeline, last) if last else pipeline)
    return results.component_runs(results.sqlite_store(p["metadata"]))


PROGRESS: quiet.ComponentProgress | None = None  # this run's component progress, once TFX starts


def explain_failure(error: Exception, metadata: str) -> str:
    """One clear paragraph instead of a Beam traceback: which component failed, why, what to do."""
    from pipeline import results

    # ML Metadata names the failed component; a driver that fails before its execution is
    # recorded (ImportExampleGen listing its input) is the one the progress lines last started.
    failed = (PROGRESS and PROGRESS.running()) or "?"
    if Path(metadata).exists():
        runs = results.component_runs(results.sqlite_store(metadata))
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
