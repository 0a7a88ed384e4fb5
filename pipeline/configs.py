"""Every knob of the pipeline, in one place (as in TFX's templates).

local_runner.py and vertex_runner.py read these defaults and let flags or environment
variables override the ones a user changes per run.
"""

from __future__ import annotations

import os
from pathlib import Path

from models.settings import (  # noqa: F401  (configs.X keeps working)
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
from preprocessing.settings import (  # noqa: F401  (configs.X keeps working)
    EXIF_SCAN_BYTES,
    JPEG_DECODE_RATIOS,
    JPEG_MIN_SHORT_SIDE_FACTOR,
    TRANSFORM_CHUNK_SIZE,
)

REPO = Path(__file__).resolve().parents[1]

PIPELINE_NAME = "tastebud"
MODEL_NAME = os.environ.get("TASTEBUD_MODEL_NAME", "tastebud")  # serving/<MODEL_NAME>/<version>

# ---- data ----------------------------------------------------------------------
SAMPLE_DATA = REPO / "data" / "flowers_small"
SCHEMA_PATH = REPO / "pipeline" / "schema.pbtxt"
TRAIN_SPLIT_PATTERN = "train/*"
EVAL_SPLIT_PATTERN = "eval/*"
LABELS_FILE = "dict.txt"

# ---- Transform: the backbone ------------------------------------------------------
BACKBONE = os.environ.get("TASTEBUD_BACKBONE", "inception_v3")  # the pipeline's default
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
CV_FOLDS = 5  # k of the out-of-fold predictions (models/out_of_fold.py)
CV_SEED = 0  # seeds the stratified fold split
BLESSING_SIGNIFICANCE = 0.01  # the out-of-fold binomial test's level (--significance)
HOLDOUT_SIGNIFICANCE = 0.01  # eval accuracy significantly below the bar at this level is a shortfall
EVAL_ACCURACY_THRESHOLD: float | None = None  # a business bar on top (--min-accuracy); the stricter applies
MAX_ACCURACY_REGRESSION = 1e-10  # ...and no worse than the last blessed model by more than this
BLESSING_FLOAT_MARGIN = 1e-6  # TFMA computes accuracy in float32: k/n may land just below k/n
INTERVAL_CONFIDENCE = 0.95  # Wilson intervals on accuracy and per-class recall (pipeline/evaluation.py)
IMBALANCE_WARNING_RATIO = 3.0  # warn when the largest class has more than this times the smallest
SUMMARY_FILE = "summary.json"  # written by `tastebud prepare`: photos per class and split
BLESSING_RECORD_DIR = "blessing"  # under the pipeline root: the bar and its reasons, per run

# ---- the phone model (pipeline/phone.py; local_runner.py --tflite) -------------------------
# A LiteRT .tflite of each pushed model, in OUT/tflite/<MODEL_NAME>/<version>/ beside labels.txt.
PHONE_QUANTIZATION = "dynamic"  # dynamic (int8 weights), int8 (weights + activations) or float16
PHONE_MAX_DROP = 0.01  # pushed only when its eval accuracy is at most this (or one photo) below the SavedModel's
PHONE_REPRESENTATIVE_IMAGES = 100  # train-split photos that calibrate int8 activations
PHONE_DIR = "tflite"  # under the output folder

# ---- the upload web page (tastebud serve; flags override) ----------------------------------
# A 48-MP phone JPEG is 2-20 MB; the whole multipart body is held in memory.
WEB_MAX_FILE_MB = 32.0  # largest accepted photo
WEB_MAX_FILES = 16  # most photos per request
WEB_MAX_REQUEST_MB = 64.0  # the whole request; raised to fit one file of the per-file limit
WEB_MULTIPART_OVERHEAD_MB = 1.0  # room for the multipart framing around the largest file
# Micro-batching of `tastebud serve --model` (tastebud/web/batching.py), after TF Serving's
# batching parameters: concurrent requests share one model call.
WEB_MAX_BATCH_SIZE = 16  # images per model call (TF Serving: max_batch_size)
WEB_BATCH_TIMEOUT_MS = 2.0  # longest a request waits for batch-mates (batch_timeout_micros / 1000)
WEB_MAX_ENQUEUED_BATCHES = 4  # images waiting beyond this many full batches get a 503 (max_enqueued_batches)
WEB_NUM_BATCH_THREADS = 1  # model calls at once (num_batch_threads); TF already uses every core per call
WEB_REQUEST_TIMEOUT_S = 30.0  # a request not answered by then gets a 504

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


# ---- Google Cloud (vertex_runner.py); environment variables override -------------------
GCP_PROJECT = os.environ.get("TASTEBUD_GCP_PROJECT", "")
GCP_REGION = os.environ.get("TASTEBUD_GCP_REGION", "us-central1")
GCS_BUCKET = os.environ.get("TASTEBUD_GCS_BUCKET", "")  # gs://BUCKET (no trailing slash)
PIPELINE_IMAGE = os.environ.get("TASTEBUD_IMAGE", "")  # e.g. us-docker.pkg.dev/PROJECT/tastebud/pipeline:0.1.0
SERVICE_ACCOUNT = os.environ.get("TASTEBUD_SERVICE_ACCOUNT", "")

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
