"""Compiles the tastebud pipeline for Vertex AI Pipelines, and optionally submits it.

    ./dev python vertex_runner.py --dry-run                  # compile, print what would be submitted
    ./dev python vertex_runner.py --submit --project P --bucket gs://B --image IMAGE

The same create_pipeline(...) as local_runner.py, with cloud settings from
pipeline/configs.py (flags and TASTEBUD_* environment variables override): Beam steps
(Transform, Evaluator) on Dataflow, optionally the Trainer on Vertex AI Training and
the Pusher to a Vertex AI endpoint. Compiled with TFX's KubeflowV2DagRunner into a
pipeline spec JSON; --submit sends it as a Vertex AI PipelineJob.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tastebud import quiet  # noqa: E402

quiet.configure(quiet.verbose_requested())  # before TensorFlow is imported, as local_runner.py does

from pipeline import configs, runner_args  # noqa: E402
from pipeline.settings import BlessingSettings, PipelineSettings  # noqa: E402
from pipeline.vertex_settings import vertex_serving_config, vertex_training_config  # noqa: E402
from preprocessing.contract import LABELS_FILE, SUMMARY_FILE, read_labels_file  # noqa: E402
from preprocessing.settings import TransformSettings  # noqa: E402


class SubmitError(RuntimeError):
    """Submitting to Vertex AI is not possible (e.g. no credentials); the message says why."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    env = runner_args.env_default
    p.add_argument(
        "--project", default=env("TASTEBUD_GCP_PROJECT", configs.GCP_PROJECT) or "my-project", help="GCP project"
    )
    p.add_argument("--region", default=env("TASTEBUD_GCP_REGION", configs.GCP_REGION), help="region")
    p.add_argument("--bucket", default=env("TASTEBUD_GCS_BUCKET", configs.GCS_BUCKET) or "gs://my-bucket")
    p.add_argument("--image", default=env("TASTEBUD_IMAGE", configs.PIPELINE_IMAGE), help="pipeline container image")
    p.add_argument("--service-account", default=env("TASTEBUD_SERVICE_ACCOUNT", configs.SERVICE_ACCOUNT))
    p.add_argument("--data", help="DATA_DIR from `tastebud prepare` (default BUCKET/tastebud/data)")
    p.add_argument("--labels-file", help="a local copy of DATA_DIR/dict.txt (default: read DATA_DIR/dict.txt)")
    p.add_argument("--backbone", default=env("TASTEBUD_BACKBONE", configs.BACKBONE))
    p.add_argument(
        "--backbone-weights", default=configs.BACKBONE_WEIGHTS, help="weights file, e.g. gs://B/inception.h5"
    )
    p.add_argument(
        "--summary-file", help="a local copy of DATA_DIR/summary.json (default: read it there) for the blessing bar"
    )
    p.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS)
    runner_args.add_blessing_arguments(p)
    runner_args.add_phone_arguments(p, "BUCKET/tastebud")
    p.add_argument("--max-workers", type=int, default=configs.DATAFLOW_MAX_WORKERS, help="Dataflow autoscaling cap")
    p.add_argument("--machine-type", default=configs.DATAFLOW_MACHINE_TYPE, help="Dataflow worker machine type")
    p.add_argument("--vertex-training", action="store_true", default=configs.USE_VERTEX_TRAINING)
    p.add_argument("--deploy-endpoint", action="store_true", default=configs.DEPLOY_TO_VERTEX_ENDPOINT)
    p.add_argument(
        "--output-dir",
        default=str(configs.LOCAL_OUTPUT / "vertex"),
        help="where the compiled spec goes (default out/vertex/)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="compile and print what would be submitted")
    mode.add_argument("--submit", action="store_true", help="compile and submit a Vertex AI PipelineJob")
    runner_args.add_verbose_argument(p)
    args = p.parse_args(argv)
    args.bucket = args.bucket.rstrip("/")
    args.image = args.image or f"{args.region.split('-')[0]}-docker.pkg.dev/{args.project}/tastebud/pipeline:latest"
    args.data = args.data or f"{args.bucket}/tastebud/data"
    return args


def read_labels(args: argparse.Namespace) -> list[str]:
    """dict.txt's labels (the evaluation config needs their count at compile time), read
    through Beam's FileSystems (local or gs://, as `prepare` wrote them)."""
    from apache_beam.io.filesystems import FileSystems

    source = args.labels_file or f"{args.data}/{LABELS_FILE}"
    if "://" in source and not args.submit:
        # A dry run never reaches for the bucket: it shows the spec with the sample's labels.
        print(
            f"note: not reading {source} in a dry run; using the bundled sample's labels "
            "(pass --labels-file to use yours)",
            file=sys.stderr,
        )
        return sorted(p.name for p in configs.SAMPLE_DATA.iterdir() if p.is_dir())
    if "://" in source:
        check_credentials()
    try:
        return read_labels_file(source, FileSystems.open)
    except Exception as e:
        raise SystemExit(
            f"error: cannot read the labels from {source} ({type(e).__name__}); "
            "pass --labels-file with a local copy of DATA_DIR/dict.txt"
        ) from None


def blessing(args: argparse.Namespace) -> BlessingSettings:
    """The blessing settings from summary.json's counts: the out-of-fold bar and the eval split's
    floor under it. Whether the last blessed model can be compared (same labels) is decided
    inside the run, by the Evaluator (pipeline/evaluator.py), as in local runs.
    """
    from data.counts import summary_counts
    from data.report import read_text

    source = args.summary_file or f"{args.data}/{SUMMARY_FILE}"
    try:
        if "://" in source and not args.submit:
            raise FileNotFoundError("not read in a dry run")
        if "://" in source:
            check_credentials()  # no credentials: say so at once, not after the client's retries
        summary = json.loads(read_text(source))
    except Exception as e:
        eval_bar = f"--min-accuracy {args.min_accuracy:g}" if args.min_accuracy else "none (no --min-accuracy)"
        print(
            f"note: no photo counts from {source} ({e}); no out-of-fold bar, and the eval bar is {eval_bar}. "
            "Pass --summary-file with a local copy of DATA_DIR/summary.json for both.",
            file=sys.stderr,
        )
        return BlessingSettings(compare_with_last_blessed=not args.new_baseline, min_accuracy=args.min_accuracy)
    settings = runner_args.blessing_settings(
        args, summary_counts(summary, ("train", "eval")), sum(summary_counts(summary).values())
    )
    bar, holdout = settings.bar, settings.holdout
    print(f"blessing bar: out-of-fold accuracy >= {bar.accuracy:.3f}: {bar.reason()}", file=sys.stderr)
    print(f"eval floor: accuracy >= {holdout.accuracy:.3f}: {holdout.reason()}", file=sys.stderr)
    return settings


def pipeline_root(args: argparse.Namespace) -> str:
    return f"{args.bucket}/tastebud/pipeline_root"


def compile_pipeline(args: argparse.Namespace) -> Path:
    """Writes the Vertex AI pipeline spec JSON and returns its path."""
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    settings = PipelineSettings(
        name=configs.PIPELINE_NAME,
        root=pipeline_root(args),
        data_dir=args.data,
        labels=tuple(read_labels(args)),
        serving_dir=f"{args.bucket}/tastebud/serving/{configs.MODEL_NAME}",
        transform=TransformSettings(args.backbone, args.backbone_weights),
        head=runner_args.head_settings(args),
        blessing=blessing(args),
        data_health=not args.no_data_health,
        phone=runner_args.phone_settings(args, f"{args.bucket}/tastebud/{configs.PHONE_DIR}/{configs.MODEL_NAME}"),
        schema_path=f"{configs.CONTAINER_PROJECT_DIR}/pipeline/schema.pbtxt",
        beam_pipeline_args=tuple(
            configs.dataflow_beam_args(
                args.project, args.region, args.bucket, args.image, args.max_workers, args.machine_type
            )
        ),
        vertex_training=vertex_training_config(args) if args.vertex_training else None,
        vertex_serving=vertex_serving_config(args) if args.deploy_endpoint else None,
        embeddings_dir=f"{args.bucket}/tastebud/embeddings",  # embeddings reused by content (no custom Resolver)
    )
    pipeline = create_pipeline(settings)
    filename = f"{configs.PIPELINE_NAME}_pipeline.json"
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image),
        output_dir=args.output_dir,
        output_filename=filename,
    )
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    runner.run(pipeline, write_out=True)
    return Path(args.output_dir) / filename


def describe(spec_path: Path, args: argparse.Namespace) -> str:
    spec = json.loads(spec_path.read_text())
    pipeline_spec = spec.get("pipelineSpec", spec)
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    images = sorted(
        {e["container"]["image"] for e in pipeline_spec["deploymentSpec"]["executors"].values() if "container" in e}
    )
    lines = [
        f"Vertex AI PipelineJob '{configs.PIPELINE_NAME}' in {args.project} / {args.region}",
        f"  spec:          {spec_path}",
        f"  pipeline root: {pipeline_root(args)}",
        f"  data:          {args.data}",
        f"  image:         {', '.join(images)}",
        f"  backbone:      {args.backbone}",
        f"  Dataflow:      up to {args.max_workers} x {args.machine_type}",
        f"  trainer:       {'Vertex AI Training' if args.vertex_training else 'in the pipeline step'}",
        f"  pusher:        {pusher_target(args)}",
        f"  phone model:   {phone_target(args)}",
        f"  tasks ({len(tasks)}): {', '.join(task_order(pipeline_spec))}",
    ]
    return "\n".join(lines)


def pusher_target(args: argparse.Namespace) -> str:
    if args.deploy_endpoint:
        return f"Vertex AI endpoint {configs.VERTEX_ENDPOINT_NAME}"
    return f"{args.bucket}/tastebud/serving/{configs.MODEL_NAME} (TF Serving layout)"


def phone_target(args: argparse.Namespace) -> str:
    if not args.tflite:
        return "none (add --tflite for a checked LiteRT .tflite beside each push)"
    return f"{args.bucket}/tastebud/{configs.PHONE_DIR}/{configs.MODEL_NAME} ({args.tflite_quantization})"


def task_order(pipeline_spec: dict) -> list[str]:
    """Task names in dependency order (a topological sort of the DAG)."""
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    done: list[str] = []
    while len(done) < len(tasks):
        ready = sorted(n for n, t in tasks.items() if n not in done and set(t.get("dependentTasks", [])) <= set(done))
        if not ready:
            raise ValueError("the pipeline spec has a dependency cycle")
        done.extend(ready)
    return done


def check_credentials(allow_metadata_server: bool = False):
    """Application-default credentials, without touching the network unless allowed.

    google-auth would otherwise probe the GCE metadata server when no credentials are
    configured; NO_GCE_CHECK keeps the failure local and immediate.
    """
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    if not allow_metadata_server:
        os.environ["NO_GCE_CHECK"] = "True"
    try:
        credentials, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except DefaultCredentialsError:
        raise SubmitError(
            "no Google Cloud credentials found. Run `gcloud auth application-default login`, or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, then submit again. "
            "(--dry-run compiles without credentials.)"
        ) from None
    return credentials, project


def submit(spec_path: Path, args: argparse.Namespace):
    credentials, _ = check_credentials(os.environ.get("TASTEBUD_ALLOW_GCE_METADATA") == "1")
    from google.cloud import aiplatform

    aiplatform.init(project=args.project, location=args.region, credentials=credentials)
    job = aiplatform.PipelineJob(
        display_name=configs.PIPELINE_NAME,
        template_path=str(spec_path),
        pipeline_root=pipeline_root(args),
        enable_caching=True,
    )
    job.submit(service_account=args.service_account or None)
    return job


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec_path = compile_pipeline(args)
    print(describe(spec_path, args))
    if args.submit:
        try:
            job = submit(spec_path, args)
        except SubmitError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(
            f"submitted: {job.resource_name}\nwatch it: https://console.cloud.google.com/vertex-ai/pipelines?project={args.project}"
        )
    elif args.dry_run:
        print("dry run: nothing submitted (add --submit to send it to Vertex AI)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
