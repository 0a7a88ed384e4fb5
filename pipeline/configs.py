"""The runners' table of defaults, in one place (as in TFX's templates).

Read by the runners and the CLI only (local_runner.py, vertex_runner.py, pipeline/local_run.py,
pipeline/runner_args.py, tastebud/*_cli.py): they turn these and their flags into the
settings dataclasses they pass down (pipeline/settings.py), and they alone read environment
variables (pipeline/runner_args.py env_default). The code below them keeps its own constants
beside it (models/settings.py, preprocessing/settings.py, pipeline/blessing.py, ...); the
names re-exported here are the defaults the flags show.
"""

from __future__ import annotations

from pathlib import Path

from models.settings import (  # noqa: F401  (configs.X keeps working)
    CV_FOLDS,
    CV_SEED,
    DETERMINISTIC_OPS,
    HYPERPARAMETERS,
    SEARCH_SPACE,
    SEED,
    TUNER_BUDGET_SECONDS,
    TUNER_FOLDS,
    TUNER_MAX_EPOCHS,
    TUNER_MAX_TRIALS,
    TUNER_PATIENCE,
    TUNER_SEED,
    TUNER_SELECT_BY,
)
from pipeline.blessing import SIGNIFICANCE
from pipeline.evaluation import INTERVAL_CONFIDENCE  # noqa: F401  (configs.X keeps working)
from pipeline.phone_check import PHONE_MAX_DROP  # noqa: F401  (configs.X keeps working)
from pipeline.settings import SCHEMA_PATH  # noqa: F401  (configs.X keeps working)
from preprocessing.contract import LABELS_FILE, SUMMARY_FILE  # noqa: F401  (configs.X keeps working)
from preprocessing.settings import (  # noqa: F401  (configs.X keeps working)
    EXIF_SCAN_BYTES,
    JPEG_DECODE_RATIOS,
    JPEG_MIN_SHORT_SIDE_FACTOR,
    TRANSFORM_CHUNK_SIZE,
)

REPO = Path(__file__).resolve().parents[1]

PIPELINE_NAME = "tastebud"
MODEL_NAME = "tastebud"  # serving/<MODEL_NAME>/<version> (--model-name, TASTEBUD_MODEL_NAME)

# ---- data ----------------------------------------------------------------------
SAMPLE_DATA = REPO / "data" / "flowers_small"

# ---- Transform: the backbone ------------------------------------------------------
BACKBONE = "inception_v3"  # the pipeline's default (--backbone, TASTEBUD_BACKBONE)
BACKBONE_WEIGHTS: str | None = None  # a weights file; None = the backbone's own resolution
# Images per backbone call inside Transform (TRANSFORM_CHUNK_SIZE) and the JPEG/EXIF decoding
# settings live beside the code that uses them: preprocessing/settings.py (imported above).

# ---- Reproducibility, the Tuner and the head's defaults: models/settings.py (imported above) ----
# One seed (SEED, --seed) drives the Tuner's search and folds and the head's initial weights,
# dropout and shuffling; the Tuner's budget is a number of trials (TUNER_MAX_TRIALS).
TUNE = True  # False: the Trainer uses HYPERPARAMETERS as they are (no Tuner component)

# ---- Trainer: the head --------------------------------------------------------------
TRAIN_STEPS: int | None = None  # None: the (tuned) epochs over the train split; a number overrides
EVAL_STEPS = 5

# ---- Evaluator and BlessingGate: the blessing rule (pipeline/blessing.py) -----------------
# Bless when the chosen head's k-fold out-of-fold accuracy over every labelled photo is
# significantly above the majority-class rate (one-sided binomial test), and the pushed
# model's eval accuracy is not significantly below that bar and no worse than the last
# blessed model with the same labels.
# CV_FOLDS, CV_SEED: models/settings.py; the levels and margins: pipeline/blessing.py.
BLESSING_SIGNIFICANCE = SIGNIFICANCE  # the out-of-fold binomial test's level (--significance)
EVAL_ACCURACY_THRESHOLD: float | None = None  # a business bar on top (--min-accuracy); the stricter applies

# ---- the phone model (pipeline/phone.py; local_runner.py --tflite) -------------------------
# A LiteRT .tflite of each pushed model, in OUT/tflite/<MODEL_NAME>/<version>/ beside labels.txt.
PHONE_QUANTIZATION = "dynamic"  # dynamic (int8 weights), int8 (weights + activations) or float16
PHONE_DIR = "tflite"  # under the output folder

# ---- local runs ---------------------------------------------------------------------------
LOCAL_OUTPUT = REPO / "out"
# DirectRunner: in_memory runs everything in this process; TF's own threads already use
# every core for the backbone, so more Beam workers only add start-up and contention.
DIRECT_RUNNING_MODE = "in_memory"
DIRECT_NUM_WORKERS = 1
ENABLE_CACHE = True  # unchanged inputs reuse earlier outputs (embeddings computed once)


def local_beam_args(running_mode: str = DIRECT_RUNNING_MODE, num_workers: int = DIRECT_NUM_WORKERS) -> list[str]:
    """Beam flags for a local run. The defaults are Beam's own (the DirectRunner, in_memory,
    one worker), so they give no flags: with any flag TFX builds an sdist of itself for
    remote workers before every Beam component (tfx/utils/dependency_utils.py, about 2 s
    each on 2 cores), and the flags that would stop it make Beam stage or download files."""
    if (running_mode, num_workers) == ("in_memory", 1):
        return []
    return [
        "--runner=DirectRunner",
        f"--direct_running_mode={running_mode}",
        f"--direct_num_workers={num_workers}",
    ]


# ---- Google Cloud (vertex_runner.py); TASTEBUD_GCP_PROJECT, ... override (vertex_runner.py) ----
GCP_PROJECT = ""
GCP_REGION = "us-central1"
GCS_BUCKET = ""  # gs://BUCKET (no trailing slash)
PIPELINE_IMAGE = ""  # e.g. us-docker.pkg.dev/PROJECT/tastebud/pipeline:0.1.0
SERVICE_ACCOUNT = ""

# Dataflow: Transform's embeddings are the expensive step. Each worker decodes and embeds
# its own share of images; throughput grows with workers until the data runs out.
DATAFLOW_MACHINE_TYPE = "n1-standard-8"  # TF uses every core of a worker for the backbone
DATAFLOW_MAX_WORKERS = 10
DATAFLOW_DISK_GB = 50

# Optional: train on Vertex AI Training and deploy to a Vertex AI endpoint.
USE_VERTEX_TRAINING = False
VERTEX_TRAINING_MACHINE_TYPE = "n1-standard-4"
DEPLOY_TO_VERTEX_ENDPOINT = False
VERTEX_ENDPOINT_NAME = "tastebud"
VERTEX_SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
VERTEX_SERVING_MACHINE_TYPE = "n1-standard-4"


def dataflow_beam_args(
    project: str,
    region: str,
    bucket: str,
    image: str,
    max_workers: int = DATAFLOW_MAX_WORKERS,
    machine_type: str = DATAFLOW_MACHINE_TYPE,
) -> list[str]:
    """Beam flags that send Transform, the Evaluator (and `tastebud prepare`) to Dataflow."""
    return [
        "--runner=DataflowRunner",
        f"--project={project}",
        f"--region={region}",
        f"--temp_location={bucket}/tmp",
        f"--staging_location={bucket}/staging",
        f"--machine_type={machine_type}",
        f"--max_num_workers={max_workers}",
        "--autoscaling_algorithm=THROUGHPUT_BASED",
        f"--disk_size_gb={DATAFLOW_DISK_GB}",
        f"--sdk_container_image={image}",
        "--experiments=use_runner_v2",
    ]


CONTAINER_PROJECT_DIR = "/tastebud"  # where the Dockerfile puts this repository in the image
