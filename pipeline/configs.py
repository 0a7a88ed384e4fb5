"""Every knob of the pipeline, in one place (as in TFX's templates).

local_runner.py and vertex_runner.py read these defaults and let flags or environment
variables override the ones a user changes per run.
"""

from __future__ import annotations

import os
from pathlib import Path

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
TRANSFORM_CHUNK_SIZE = 32  # images decoded and embedded per backbone call inside Transform

# ---- Trainer: the head --------------------------------------------------------------
TRAIN_STEPS = 300
EVAL_STEPS = 5
STEPS_PER_EPOCH = 25  # one TensorBoard point per epoch
HYPERPARAMETERS = {
    "hidden_units": 256,
    "dropout": 0.3,
    "learning_rate": 1e-3,
    "batch_size": 32,
    "seed": 0,
}

# ---- Evaluator: the blessing gate ------------------------------------------------------
EVAL_ACCURACY_THRESHOLD = 0.8  # bless only at or above this eval accuracy
MAX_ACCURACY_REGRESSION = 1e-10  # ...and no worse than the last blessed model by more than this

# ---- local runs ---------------------------------------------------------------------------
LOCAL_OUTPUT = REPO / "out"
# DirectRunner: in_memory runs everything in this process; TF's own threads already use
# every core for the backbone, so more Beam workers only add start-up and contention.
DIRECT_RUNNING_MODE = "in_memory"
DIRECT_NUM_WORKERS = 1
ENABLE_CACHE = True  # unchanged inputs reuse earlier outputs (embeddings computed once)


def local_beam_args(running_mode: str = DIRECT_RUNNING_MODE, num_workers: int = DIRECT_NUM_WORKERS) -> list[str]:
    return [
        "--runner=DirectRunner",
        f"--direct_running_mode={running_mode}",
        f"--direct_num_workers={num_workers}",
    ]
