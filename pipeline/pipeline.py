"""The tastebud pipeline. create_pipeline() reads top to bottom as the DAG:

ImportExampleGen -> ImportSchemaGen -> Transform (bottleneck embeddings)
  -> Tuner (the head's hyperparameters, k-fold CV on train)
  -> OutOfFold (k-fold CV of the chosen head on train + eval: the blessing's evidence)
     [-> DataHealth (suspect labels, near-duplicates, outliers, dark/blank/blurry: a report only)]
  -> Trainer (the head) -> Resolver (latest blessed)
  -> Evaluator (TFMA on the eval split: no significant shortfall, no regression)
  -> BlessingGate (the out-of-fold binomial bar and the Evaluator's verdict) -> Pusher
  [-> PhoneExport (a checked LiteRT .tflite of the pushed model; local_runner.py --tflite)]
"""

from __future__ import annotations

import json

from ml_metadata.proto import metadata_store_pb2
from tensorflow_model_analysis.proto import config_pb2 as tfma
from tfx import v1 as tfx

from models.export import EXAMPLES_SIGNATURE, LABEL_SIGNATURE, SCORES_OUTPUT
from models.out_of_fold import OutOfFold
from pipeline import configs
from pipeline.data_health import DataHealth
from pipeline.evaluation import TOP_K
from pipeline.gate import COMPONENT_ID as GATE_ID
from pipeline.gate import BlessingGate
from preprocessing import features


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_dir: str,
    labels: list[str],
    serving_model_dir: str,
    backbone: str = configs.BACKBONE,
    backbone_weights: str | None = configs.BACKBONE_WEIGHTS,
    train_steps: int | None = configs.TRAIN_STEPS,
    eval_steps: int = configs.EVAL_STEPS,
    hyperparameters: dict | None = None,
    accuracy_bar: float = 0.0,
    cv_needed_correct: int = 0,
    photo_count: int = 0,
    cv_folds: int = configs.CV_FOLDS,
    cv_seed: int = configs.CV_SEED,
    compare_with_baseline: bool = True,
    tune: bool = configs.TUNE,
    tuner_settings: dict | None = None,
    keras_verbosity: int = 0,
    schema_path: str = str(configs.SCHEMA_PATH),
    enable_cache: bool = configs.ENABLE_CACHE,
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    beam_pipeline_args: list[str] | None = None,
    vertex_training: dict | None = None,
    vertex_serving: dict | None = None,
    phone: dict | None = None,
    data_health: bool = True,
) -> tfx.dsl.Pipeline:
    """The DAG. accuracy_bar: TFMA's lower bound on eval accuracy (pipeline/blessing.py's
    HoldoutCheck.lower_bound); cv_needed_correct of photo_count: the out-of-fold bar
    (BlessingBar.needed_correct, -1 when none can pass); compare_with_baseline=False leaves
    out the last blessed model (a new baseline, or the label set changed). tune=False
    skips the Tuner; data_health=False the DataHealth report. keras_verbosity: the Tuner's
    Keras fit() verbosity and, when nonzero, its search-space and results tables (the runner
    reads --verbose; only a nonzero value enters the Tuner's config, so quiet runs keep their cache)."""
    components = []

    # Reads the TFRecords written by `tastebud prepare`, keeping its train/eval split.
    example_gen = tfx.components.ImportExampleGen(
        input_base=data_dir,
        input_config=tfx.proto.Input(
            splits=[
                tfx.proto.Input.Split(name="train", pattern=configs.TRAIN_SPLIT_PATTERN),
                tfx.proto.Input.Split(name="eval", pattern=configs.EVAL_SPLIT_PATTERN),
            ]
        ),
    )
    components.append(example_gen)

    # The checked-in schema: image, label and key, one of each per example.
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    components.append(schema_gen)

    # Decodes the images and computes the backbone's bottleneck embedding, once.
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="preprocessing.preprocessing.preprocessing_fn",
        # TFDV statistics over raw image bytes and 1280/2048-d embeddings cost more than
        # the embeddings themselves and nothing downstream reads them.
        disable_statistics=True,
        custom_config={
            "backbone": backbone,
            "backbone_weights": backbone_weights,
            "labels": labels,
            "chunk_size": configs.TRANSFORM_CHUNK_SIZE,
        },
    )
    components.append(transform)

    # Picks the head's hyperparameters by k-fold cross-validation on the train split only.
    tuner = None
    if tune:
        tuner = tfx.components.Tuner(
            tuner_fn="models.tuning.tuner_fn",
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            train_args=tfx.proto.TrainArgs(splits=["train"]),
            eval_args=tfx.proto.EvalArgs(splits=["eval"]),  # required by TFX; tuner_fn never reads it
            custom_config={
                "labels": labels,
                "tuner": tuner_settings or {},
                **({"verbose": keras_verbosity} if keras_verbosity else {}),
            },
        )
        components.append(tuner)

    given_hyperparameters = {**configs.HYPERPARAMETERS, **(hyperparameters or {})}

    # The blessing's evidence: out-of-fold predictions of the chosen head for every labelled photo.
    oof_args = dict(
        transformed_examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        config=json.dumps(
            {
                "labels": labels,
                "folds": cv_folds,
                "seed": cv_seed,
                "hyperparameters": given_hyperparameters,
                "train_steps": train_steps,
            }
        ),
    )
    if tuner is not None:
        oof_args["hyperparameters"] = tuner.outputs["best_hyperparameters"]
    out_of_fold = OutOfFold(**oof_args)
    components.append(out_of_fold)

    # Which photos look mislabelled, duplicated, off-topic or unusable: a report, not a gate.
    if data_health:
        components.append(
            DataHealth(
                out_of_fold=out_of_fold.outputs["predictions"],
                transformed_examples=transform.outputs["transformed_examples"],
                transform_graph=transform.outputs["transform_graph"],
                examples=example_gen.outputs["examples"],
                labels=json.dumps(labels),
                data_root=data_dir,
            )
        )

    # Trains the head on the embeddings; exports image bytes -> label in one graph.
    trainer_args = dict(
        run_fn="models.model.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=eval_steps),
        custom_config={"labels": labels, "hyperparameters": given_hyperparameters},
    )
    if tuner is not None:
        trainer_args["hyperparameters"] = tuner.outputs["best_hyperparameters"]
    if vertex_training is not None:  # the Vertex AI Training job's settings join custom_config
        trainer_args["custom_config"].update(vertex_training)
        trainer = tfx.extensions.google_cloud_ai_platform.Trainer(**trainer_args)
    else:
        trainer = tfx.components.Trainer(**trainer_args)
    components.append(trainer)

    # The latest blessed model is the baseline the candidate must not regress from
    # (blessed by the gate: the Evaluator's own blessing is only half of the rule).
    baseline = None
    if compare_with_baseline:
        model_resolver = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(
                type=tfx.types.standard_artifacts.ModelBlessing, producer_component_id=GATE_ID, output_key="blessing"
            ),
        ).with_id("latest_blessed_model_resolver")
        components.append(model_resolver)
        baseline = model_resolver.outputs["model"]

    # TFMA on the eval split: accuracy, per-class precision/recall (top class), confusion matrix;
    # its thresholds: no significant shortfall from the bar, no regression.
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline,
        eval_config=eval_config(len(labels), accuracy_bar, compare_with_baseline),
    )
    components.append(evaluator)

    # Blesses when the out-of-fold accuracy reaches the bar and the Evaluator blessed.
    gate = BlessingGate(
        out_of_fold=out_of_fold.outputs["predictions"],
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        needed_correct=cv_needed_correct,
        photo_count=photo_count,
    )
    components.append(gate)

    # Blessed models only, into TF Serving's versioned layout (or a Vertex endpoint).
    pusher_args = dict(model=trainer.outputs["model"], model_blessing=gate.outputs["blessing"])
    if vertex_serving is not None:  # deploy to a Vertex AI endpoint instead
        pusher_args["custom_config"] = vertex_serving
        pusher = tfx.extensions.google_cloud_ai_platform.Pusher(**pusher_args)
    else:
        pusher_args["push_destination"] = tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)
        )
        pusher = tfx.components.Pusher(**pusher_args)
    components.append(pusher)

    # The pushed model as a quantised .tflite, pushed beside it only if it scores like it.
    if phone is not None:
        from pipeline.phone import PhoneExport

        components.append(
            PhoneExport(
                model=trainer.outputs["model"],
                examples=example_gen.outputs["examples"],
                pushed_model=pusher.outputs["pushed_model"],
                backbone=backbone,
                backbone_weights=backbone_weights or "",
                **phone,
            )
        )

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )


def eval_config(num_classes: int, accuracy_bar: float, compare_with_baseline: bool = True) -> tfma.EvalConfig:
    """What TFMA computes on the eval split and its thresholds (the Evaluator's half of the
    blessing): overall accuracy at least accuracy_bar and, when comparing, no worse than
    the baseline model."""
    accuracy_gate = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_bar}),
    )
    if compare_with_baseline:
        accuracy_gate.change_threshold.CopyFrom(
            tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -configs.MAX_ACCURACY_REGRESSION}
            )
        )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=EXAMPLES_SIGNATURE,
                preprocessing_function_names=[LABEL_SIGNATURE],
                label_key=features.LABEL_INDEX_KEY,
                prediction_key=SCORES_OUTPUT,
            )
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.LABEL_KEY])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(
                        class_name="SparseCategoricalAccuracy",
                        # The gate applies to the overall slice; per-label slices are for reading.
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_gate)
                        ],
                    ),
                    tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
                ]
            ),
            # Per class, on the same decisions as accuracy and the confusion matrix: a photo is
            # predicted class c when c is its top score (top_k 1), not when c's score passes 0.5.
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name=name, config=json.dumps({"top_k": TOP_K}))
                    for name in ("Precision", "Recall")
                ],
                binarize=tfma.BinarizationOptions(class_ids={"values": list(range(num_classes))}),
            ),
        ],
    )
