"""The tastebud pipeline. create_pipeline() reads top to bottom as the DAG:

ImportExampleGen -> ImportSchemaGen
  [-> Resolver (earlier embeddings; Vertex: an Importer of the last run's pointer)
   -> EmbeddingCache (each photo + its earlier embedding, by content)]
  -> Transform (bottleneck embeddings: only for photos without an earlier one)
  [-> RecordEmbeddings (Vertex: the pointer to this run's embeddings, for the next run)]
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
from dataclasses import asdict

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from models.out_of_fold import OutOfFold
from pipeline.data_health import DataHealth
from pipeline.embedding_cache import EmbeddingCache
from pipeline.embedding_pointer import RecordEmbeddings, latest_embeddings, pointer_dir
from pipeline.embedding_reuse import earlier_embeddings
from pipeline.evaluator import Evaluator, eval_config
from pipeline.gate import COMPONENT_ID as GATE_ID
from pipeline.gate import BlessingGate
from pipeline.settings import EVAL_SPLIT_PATTERN, MAX_ACCURACY_REGRESSION, TRAIN_SPLIT_PATTERN, PipelineSettings


def create_pipeline(
    s: PipelineSettings, metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None
) -> tfx.dsl.Pipeline:
    """The DAG for one run's settings (pipeline/settings.py), built by a runner from its flags."""
    labels, head = list(s.labels), s.head
    components = []

    # Reads the TFRecords written by `tastebud prepare`, keeping its train/eval split.
    example_gen = tfx.components.ImportExampleGen(
        input_base=s.data_dir,
        input_config=tfx.proto.Input(
            splits=[
                tfx.proto.Input.Split(name="train", pattern=TRAIN_SPLIT_PATTERN),
                tfx.proto.Input.Split(name="eval", pattern=EVAL_SPLIT_PATTERN),
            ]
        ),
    )
    components.append(example_gen)

    # The checked-in schema: image, label and key, one of each per example.
    schema_gen = tfx.components.ImportSchemaGen(schema_file=s.schema_path)
    components.append(schema_gen)

    # Photos whose bytes an earlier run embedded (same backbone, weights and decode code)
    # bring that embedding along: found by content hash, joined in Beam before Transform.
    transform_examples, transform_config = example_gen.outputs["examples"], {}
    if s.transform.reuse_embeddings:
        if s.embeddings_dir:  # Vertex: the pointer that the last run with this backbone left
            earlier = latest_embeddings(pointer_dir(s.embeddings_dir, s.transform.backbone, s.transform.weights))
            cache = {"cache_pointer": earlier.outputs["result"]}
        else:  # ML Metadata's latest earlier Transform output with this run's fingerprint
            from preprocessing.embedding_cache import fingerprint

            fp = fingerprint(s.transform.backbone, s.transform.weights)
            earlier = earlier_embeddings(example_gen.outputs["examples"], fp)
            cache = {"cache": earlier.outputs["cache"]}
        cache_join = EmbeddingCache(
            examples=example_gen.outputs["examples"],
            backbone=s.transform.backbone,
            backbone_weights=s.transform.weights or "",
            **cache,
        )
        components += [earlier, cache_join]
        transform_examples, transform_config = cache_join.outputs["joined"], {"reuse_embeddings": True}

    # Decodes the images and computes the backbone's bottleneck embedding (the new photos' only).
    transform = tfx.components.Transform(
        examples=transform_examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="preprocessing.preprocessing.preprocessing_fn",
        # TFDV statistics over raw image bytes and 1280/2048-d embeddings cost more than
        # the embeddings themselves and nothing downstream reads them.
        disable_statistics=True,
        custom_config={
            "backbone": s.transform.backbone,
            "backbone_weights": s.transform.weights,
            "labels": labels,
            "chunk_size": s.transform.chunk_size,
            **transform_config,
        },
    )
    components.append(transform)
    if s.transform.reuse_embeddings and s.embeddings_dir:  # the pointer for the next run
        components.append(
            RecordEmbeddings(
                transformed_examples=transform.outputs["transformed_examples"],
                latest=pointer_dir(s.embeddings_dir, s.transform.backbone, s.transform.weights),
            )
        )

    # Picks the head's hyperparameters by k-fold cross-validation on the train split only.
    tuner = None
    if head.tune:
        tuner = tfx.components.Tuner(
            tuner_fn="models.tuning.tuner_fn",
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            train_args=tfx.proto.TrainArgs(splits=["train"]),
            eval_args=tfx.proto.EvalArgs(splits=["eval"]),  # required by TFX; tuner_fn never reads it
            custom_config={
                "labels": labels,
                "tuner": asdict(head.tuner),
                **({"verbose": head.keras_verbosity} if head.keras_verbosity else {}),
            },
        )
        components.append(tuner)

    given_hyperparameters = head.hyperparameters()

    # The blessing's evidence: out-of-fold predictions of the chosen head for every labelled photo.
    oof_args = dict(
        transformed_examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        config=json.dumps(
            {
                "labels": labels,
                "folds": head.cv_folds,
                "seed": head.cv_seed,
                "hyperparameters": given_hyperparameters,
                "train_steps": head.train_steps,
            }
        ),
    )
    if tuner is not None:
        oof_args["hyperparameters"] = tuner.outputs["best_hyperparameters"]
    out_of_fold = OutOfFold(**oof_args)
    components.append(out_of_fold)

    # Which photos look mislabelled, duplicated, off-topic or unusable: a report, not a gate.
    if s.data_health:
        components.append(
            DataHealth(
                out_of_fold=out_of_fold.outputs["predictions"],
                transformed_examples=transform.outputs["transformed_examples"],
                transform_graph=transform.outputs["transform_graph"],
                examples=example_gen.outputs["examples"],
                labels=json.dumps(labels),
                data_root=s.data_dir,
            )
        )

    # Trains the head on the embeddings; exports image bytes -> label in one graph.
    trainer_args = dict(
        run_fn="models.model.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=tfx.proto.TrainArgs(num_steps=head.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=head.eval_steps),
        custom_config={"labels": labels, "hyperparameters": given_hyperparameters},
    )
    if tuner is not None:
        trainer_args["hyperparameters"] = tuner.outputs["best_hyperparameters"]
    if s.vertex_training is not None:  # the Vertex AI Training job's settings join custom_config
        trainer_args["custom_config"].update(s.vertex_training)
        trainer = tfx.extensions.google_cloud_ai_platform.Trainer(**trainer_args)
    else:
        trainer = tfx.components.Trainer(**trainer_args)
    components.append(trainer)

    # The latest blessed model is the baseline the candidate must not regress from
    # (blessed by the gate: the Evaluator's own blessing is only half of the rule).
    baseline = None
    if s.blessing.compare_with_last_blessed:
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
    # its thresholds: no significant shortfall from the bar, no regression from a baseline model
    # with the same labels (a changed label set drops the comparison, inside the run).
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline,
        eval_config=eval_config(len(labels), s.blessing.eval_floor, MAX_ACCURACY_REGRESSION),
    )
    components.append(evaluator)

    # Blesses when the out-of-fold accuracy reaches the bar and the Evaluator blessed.
    gate = BlessingGate(
        out_of_fold=out_of_fold.outputs["predictions"],
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        rule=s.blessing.as_json(),
    )
    components.append(gate)

    # Blessed models only, into TF Serving's versioned layout (or a Vertex endpoint).
    pusher_args = dict(model=trainer.outputs["model"], model_blessing=gate.outputs["blessing"])
    if s.vertex_serving is not None:  # deploy to a Vertex AI endpoint instead
        pusher_args["custom_config"] = s.vertex_serving
        pusher = tfx.extensions.google_cloud_ai_platform.Pusher(**pusher_args)
    else:
        pusher_args["push_destination"] = tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=s.serving_dir)
        )
        pusher = tfx.components.Pusher(**pusher_args)
    components.append(pusher)

    # The pushed model as a quantised .tflite, pushed beside it only if it scores like it.
    if s.phone is not None:
        from pipeline.phone import PhoneExport

        components.append(
            PhoneExport(
                model=trainer.outputs["model"],
                examples=example_gen.outputs["examples"],
                pushed_model=pusher.outputs["pushed_model"],
                backbone=s.transform.backbone,
                backbone_weights=s.transform.weights or "",
                **asdict(s.phone),
            )
        )

    return tfx.dsl.Pipeline(
        pipeline_name=s.name,
        pipeline_root=s.root,
        components=components,
        enable_cache=s.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(s.beam_pipeline_args),
    )


def upstream_of(full: tfx.dsl.Pipeline, last: str) -> tfx.dsl.Pipeline:
    """The part of a pipeline that node `last` needs: it and every node upstream of it (e.g.
    ImportExampleGen to Transform, to time Transform or to check the container image)."""
    keep, todo = [], [next(c for c in full.components if c.id == last)]
    while todo:
        node = todo.pop()
        if node not in keep:
            keep.append(node)
            todo += list(node.upstream_nodes)
    components = [c for c in full.components if c in keep]
    for component in components:  # the rest of the DAG is not run: forget its nodes
        for node in set(component.downstream_nodes) - set(components):
            component.remove_downstream_node(node)
    return tfx.dsl.Pipeline(
        pipeline_name=full.pipeline_info.pipeline_name,
        pipeline_root=full.pipeline_info.pipeline_root,
        components=components,
        enable_cache=full.enable_cache,
        metadata_connection_config=full.metadata_connection_config,
        beam_pipeline_args=full.beam_pipeline_args,
    )
