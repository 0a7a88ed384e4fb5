"""What one run of the pipeline is told, as dataclasses passed down (as MediaPipe Model Maker
passes its HParams): a runner (local_runner.py, vertex_runner.py) builds one PipelineSettings
from its flags and hands it to create_pipeline, which reads nothing else.

    PipelineSettings
      transform  TransformSettings  (preprocessing/settings.py: backbone, weights, chunk size)
      head       HeadSettings       (models/settings.py: seed, Tuner, steps, CV folds)
      blessing   BlessingSettings   (the bar, the eval floor, the last blessed model)
      phone      PhoneSettings | None  (--tflite)

No environment variable is read here or below: the runners and the CLI read those.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from data.counts import SPLIT_PATTERNS
from models.settings import HeadSettings
from pipeline.blessing import BlessingBar, HoldoutCheck
from preprocessing.settings import TransformSettings

SCHEMA_PATH = str(Path(__file__).with_name("schema.pbtxt"))  # image, label and key, one of each per example
TRAIN_SPLIT_PATTERN, EVAL_SPLIT_PATTERN = SPLIT_PATTERNS["train"], SPLIT_PATTERNS["eval"]  # under DATA_DIR
MAX_ACCURACY_REGRESSION = 1e-10  # the candidate may be this much below the last blessed model's eval accuracy


@dataclass(frozen=True)
class BlessingSettings:
    """The evidence a model needs (pipeline/blessing.py), fixed by the runner from the photo
    counts before the run: the out-of-fold bar and the eval split's floor (None: not known when
    the pipeline is compiled, e.g. a Vertex dry run: no bar, no floor). compare_with_last_blessed
    False (--new-baseline) leaves the last blessed model out; otherwise the Evaluator compares
    with it when it can (pipeline/evaluator.py decides, inside the run)."""

    bar: BlessingBar | None = None
    holdout: HoldoutCheck | None = None
    compare_with_last_blessed: bool = True
    min_accuracy: float | None = None  # without counts (no holdout): --min-accuracy is the eval floor

    @property
    def eval_floor(self) -> float:
        """TFMA's lower bound on eval accuracy (0: none)."""
        return self.holdout.lower_bound if self.holdout else (self.min_accuracy or 0.0)

    def as_json(self) -> str:
        """The BlessingGate's `rule` parameter: the bar, the floor and --new-baseline, recorded on its blessing."""
        return json.dumps(
            {
                "bar": asdict(self.bar) if self.bar else None,
                "holdout": asdict(self.holdout) if self.holdout else None,
                "new_baseline": not self.compare_with_last_blessed,
            },
            sort_keys=True,
        )


@dataclass(frozen=True)
class PhoneSettings:
    """PhoneExport (pipeline/phone.py): where checked .tflite files go, and their quantisation."""

    base_directory: str  # <base>/<version>/model.tflite, beside the pushed SavedModel's version
    quantization: str = "dynamic"  # dynamic (int8 weights), int8 (weights + activations) or float16


@dataclass(frozen=True)
class PipelineSettings:
    """One run: where it reads and writes, and the settings of each stage."""

    name: str
    root: str  # the pipeline root (artefacts), local or gs://
    data_dir: str  # `tastebud prepare`'s output
    labels: tuple[str, ...]  # dict.txt's lines: index i is class i everywhere
    serving_dir: str  # the Pusher's TF Serving layout (unused with vertex_serving)
    transform: TransformSettings = field(default_factory=TransformSettings)
    head: HeadSettings = field(default_factory=HeadSettings)
    blessing: BlessingSettings = field(default_factory=BlessingSettings)
    data_health: bool = True  # the DataHealth report (a report, not a gate)
    phone: PhoneSettings | None = None  # PhoneExport after the Pusher (--tflite)
    schema_path: str = SCHEMA_PATH
    enable_cache: bool = True  # unchanged inputs reuse earlier outputs (embeddings computed once)
    beam_pipeline_args: tuple[str, ...] = ()
    vertex_training: dict | None = None  # the Trainer on Vertex AI Training (its custom_config)
    vertex_serving: dict | None = None  # the Pusher to a Vertex AI endpoint instead of serving_dir
    # Where each run leaves a pointer to its embeddings for the next (pipeline/embedding_pointer.py):
    # Vertex's way to reuse them, having no custom Resolver; None: the local Resolver.
    embeddings_dir: str | None = None
