"""Runs inside a rebuilt image tree (tests/e2e/test_image.py), as the image's processes would.

    PYTHONPATH=<the tree's PYTHONPATH> python -c "$(cat tests/support/image_probe.py)" LABELS_CSV WORK_DIR

It is passed as source (-c), so nothing of the repository is on sys.path: only the image's
files, the standard library and the environment's site-packages. It imports every module
the image ships, then runs `tastebud prepare` on LABELS_CSV and the pipeline's own
ImportExampleGen -> ImportSchemaGen -> EmbeddingCache -> Transform (create_pipeline up to Transform) with the
DirectRunner in multi_processing mode, 2 workers: those are separate processes that
import the project's code from PYTHONPATH, as Dataflow's workers do in the image.
Prints one JSON line: failed imports, then what prepare and Transform wrote.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

ROOTS = [Path(p).resolve() for p in os.environ["PYTHONPATH"].split(":") if p]
BEAM_MODE = ("multi_processing", 2)
TRANSFORM_PATH = ["ImportExampleGen", "ImportSchemaGen", "earlier_embeddings_resolver", "EmbeddingCache", "Transform"]


def shipped_modules() -> list[str]:
    """Every module under the image's PYTHONPATH (a .py file in packages all the way up)."""
    names = []
    for root in ROOTS:
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if all((root.joinpath(*parts[:n]) / "__init__.py").exists() for n in range(1, len(parts))):
                name = ".".join(parts).removesuffix(".__init__")
                if not name.endswith("__main__"):  # runs the CLI when imported
                    names.append(name)
    return names


def import_failures(names: list[str]) -> dict[str, str]:
    failures = {}
    for name in names:
        try:
            module = importlib.import_module(name)
            origin = Path(module.__file__).resolve()
            if not any(origin.is_relative_to(root) for root in ROOTS):
                failures[name] = f"imported from {origin}, outside the image"
        except BaseException as e:  # noqa: BLE001 - SystemExit too: every failure is reported
            failures[name] = f"{type(e).__name__}: {e}"
    return failures


def prepare(labels_csv: str, data: Path) -> int:
    from pipeline import configs
    from tastebud.cli import main

    return main(
        ["prepare", labels_csv, "--out", str(data), "--eval-fraction", "0.5", *configs.local_beam_args(*BEAM_MODE)]
    )


def transform(data: Path, work: Path) -> dict[str, list[int]]:
    """The pipeline's first three components, run by TFX; per split, each example's embedding size."""
    import tensorflow as tf
    from tfx import v1 as tfx

    from local_runner import read_labels
    from models.settings import HeadSettings
    from pipeline import configs
    from pipeline.pipeline import create_pipeline, upstream_of
    from pipeline.settings import BlessingSettings, PipelineSettings
    from preprocessing import features
    from preprocessing.settings import TransformSettings

    full = create_pipeline(
        PipelineSettings(
            name="image_probe",
            root=str(work / "root"),
            data_dir=str(data),
            labels=tuple(read_labels(str(data))),
            serving_dir=str(work / "serving"),
            transform=TransformSettings("efficientnet_lite0"),
            head=HeadSettings(tune=False),
            blessing=BlessingSettings(compare_with_last_blessed=False),
        ),
        tfx.orchestration.metadata.sqlite_metadata_connection_config(str(work / "md.db")),
    )
    pipeline = upstream_of(full, "Transform")  # the rest of the DAG is not run
    assert sorted(c.id for c in pipeline.components) == sorted(TRANSFORM_PATH)
    transform_component = next(c for c in pipeline.components if c.id == "Transform")
    transform_component.with_beam_pipeline_args(configs.local_beam_args(*BEAM_MODE))  # ExampleGen stays in_memory
    tfx.orchestration.LocalDagRunner().run(pipeline)
    written = {}
    for split in ("train", "eval"):
        files = [str(p) for p in (work / "root" / "Transform").glob(f"transformed_examples/*/Split-{split}/*")]
        records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, "GZIP")]
        written[split] = [len(r.features.feature[features.EMBEDDING_KEY].float_list.value) for r in records]
    return written


def main(labels_csv: str, work: str) -> dict:
    seconds: dict[str, float] = {}

    def timed(name, fn, *args):
        started = time.monotonic()
        result = fn(*args)
        seconds[name] = round(time.monotonic() - started, 1)
        return result

    modules = shipped_modules()
    report = {"modules": modules, "import_failures": timed("imports", import_failures, modules), "seconds": seconds}
    if report["import_failures"]:
        return report
    from pipeline import configs

    data = Path(work) / "data"
    try:
        report["prepare_exit"] = timed("prepare", prepare, labels_csv, data)
        report["prepared"] = json.loads((data / configs.SUMMARY_FILE).read_text())["splits"]
        report["transformed"] = timed("transform", transform, data, Path(work) / "pipeline")
    except Exception:
        report["error"] = traceback.format_exc()[-3000:]
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
