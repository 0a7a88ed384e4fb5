"""DataHealth: which labelled photos look mislabelled, duplicated, off-topic or unusable.

Runs data/health.py's checks on what the pipeline already computed, after OutOfFold:
the out-of-fold probabilities (label issues), Transform's embeddings (outliers and
near-duplicates) and ImportExampleGen's photo bytes (dark, blank, blurry frames: a Beam
job over the examples, on the pipeline's runner, so Dataflow on Vertex; the bytes come
from the examples, not from the key URIs, which may be gone or remote).
Pairs that `tastebud prepare` found by perceptual hash (DATA_DIR/near_duplicates.csv,
when there) join the report. It only reports: nothing is removed or relabelled, and the
blessing does not depend on it.

Its `report` artefact holds data_health.csv (COLUMNS of data/health.py, one row per
suspect photo or pair, sorted by issue then score) and data_health.json
({"counts": {issue: n}, "photos": N, "seconds": s, "csv": path}); the artefact's
`counts` (JSON) and `photos` properties carry the same numbers into ML Metadata.
"""

import json
import time

import apache_beam as beam
from tfx.dsl.component.experimental.annotations import (
    BeamComponentParameter,
    InputArtifact,
    OutputArtifact,
    Parameter,
)
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact

REPORT_KEY = "report"
SPLITS = ("train", "eval")


class DataHealthReport(Artifact):
    """DataHealth's output: data_health.csv and data_health.json."""

    TYPE_NAME = "tastebud.DataHealthReport"  # namespace.Name: the form Vertex AI Pipelines accepts


def image_rows(patterns: list[str], work: str, beam_pipeline) -> tuple[list[dict], int]:
    """The dark/blank/blurry rows of the photos in these example files, and how many photos:
    one Beam job (the pipeline's runner: DirectRunner here, Dataflow on Vertex), each photo
    decoded on its own, the few rows written to `work` and read back."""
    import apache_beam as beam
    import tensorflow as tf

    from data import health
    from data.examples import parse_example

    rows_file, count_file = f"{work}/image_rows.json", f"{work}/photo_count.txt"
    with beam_pipeline as p:
        photos = (
            p
            | "Files" >> beam.Create(patterns)
            | "Read" >> beam.io.ReadAllFromTFRecord(compression_type=beam.io.filesystem.CompressionTypes.GZIP)
            | "Parse" >> beam.Map(parse_example)
        )
        rows = photos | "Check" >> beam.FlatMap(lambda e: [json.dumps(r) for r in health.image_issues(*e)])
        _ = rows | "WriteRows" >> beam.io.WriteToText(rows_file, shard_name_template="")
        count = photos | "Count" >> beam.combiners.Count.Globally()
        _ = count | "WriteCount" >> beam.io.WriteToText(count_file, shard_name_template="")
    with tf.io.gfile.GFile(rows_file) as f:
        found = [json.loads(line) for line in f if line.strip()]
    with tf.io.gfile.GFile(count_file) as f:
        photos_read = int(f.read().strip() or 0)
    for path in (rows_file, count_file):
        tf.io.gfile.remove(path)
    return found, photos_read


def prepare_rows(data_root: str) -> list[dict]:
    """prepare's near-duplicate pairs, or none when it wrote no near_duplicates.csv."""
    import tensorflow as tf

    from data import health

    path = f"{data_root.rstrip('/')}/{health.PREPARE_DUPLICATES_FILE}"
    if not data_root or not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return health.prepare_duplicates(f.read())


def write_report(uri: str, rows: list[dict], photos: int, seconds: float) -> dict:
    """data_health.csv and data_health.json under uri (local or gs://); returns the JSON's content."""
    import tensorflow as tf

    from data import health

    tf.io.gfile.makedirs(uri)
    csv_path = f"{uri.rstrip('/')}/{health.CSV_FILE}"
    with tf.io.gfile.GFile(csv_path, "w") as f:
        f.write(health.to_csv(rows))
    summary = {"counts": health.counts(rows), "photos": photos, "seconds": round(seconds, 2), "csv": csv_path}
    with tf.io.gfile.GFile(f"{uri.rstrip('/')}/{health.JSON_FILE}", "w") as f:
        f.write(json.dumps(summary, indent=2))
    return summary


def summary_line(run) -> str | None:
    """local_runner's one line on a run's DataHealth (a pipeline.results.ComponentRun), if it ran."""
    from data import health

    artifact = run.output(REPORT_KEY) if run else None
    if artifact is None or "counts" not in artifact.properties:
        return None
    counts = json.loads(artifact.properties["counts"])
    return health.summary_line(counts, f"{artifact.uri.rstrip('/')}/{health.CSV_FILE}")


@component(use_beam=True)
def DataHealth(  # noqa: N802 (a TFX component's name)
    out_of_fold: InputArtifact[standard_artifacts.Examples],
    transformed_examples: InputArtifact[standard_artifacts.Examples],
    transform_graph: InputArtifact[standard_artifacts.TransformGraph],
    examples: InputArtifact[standard_artifacts.Examples],
    report: OutputArtifact[DataHealthReport],
    labels: Parameter[str],
    data_root: Parameter[str] = "",
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
):
    """labels: dict.txt's lines as a JSON list; data_root: `tastebud prepare`'s output folder
    (for its near_duplicates.csv; empty: none); beam_pipeline: made by TFX from the pipeline's
    beam_pipeline_args."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft
    from absl import logging

    from data import health
    from models.head import load_transformed
    from models.out_of_fold import read, split_files

    started = time.monotonic()
    names = list(json.loads(labels))
    predictions = read(out_of_fold.uri)
    spec = tft.TFTransformOutput(transform_graph.uri).transformed_feature_spec()
    x, _, keys = load_transformed([split_files(transformed_examples, s) for s in SPLITS], spec)
    position = {key: i for i, key in enumerate(keys)}
    missing = [key for key in predictions.keys if key not in position]
    if missing:
        raise ValueError(
            f"{len(missing)} out-of-fold photos have no embedding (e.g. {missing[0]}): rerun with --no-cache"
        )
    embeddings = x[np.array([position[key] for key in predictions.keys], np.int64)]
    tf.io.gfile.makedirs(report.uri)
    photo_rows, photos = image_rows([split_files(examples, s) for s in SPLITS], report.uri, beam_pipeline)
    rows = health.check(
        predictions.keys,
        predictions.labels,
        names,
        predictions.scores,
        embeddings,
        photo_rows + prepare_rows(data_root),
    )
    summary = write_report(report.uri, rows, photos, time.monotonic() - started)
    report.set_string_custom_property("counts", json.dumps(summary["counts"]))
    report.set_int_custom_property("photos", photos)
    logging.info("data health: %s over %d photos in %.1f s", summary["counts"], photos, summary["seconds"])
