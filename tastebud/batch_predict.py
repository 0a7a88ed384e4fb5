"""Batch labelling with Apache Beam's RunInference: files, folders or gs:// prefixes -> CSV/JSONL.

    list inputs (skipping system files, as `prepare` does) -> read + check each image
      -> RunInference(KeyedModelHandler(ServingModelHandler)) in batches
      -> predictions (CSV: key,label,score,<one column per class>; or JSON Lines)
      -> OUT_rejected.csv (uri, reason) and OUT_notes.csv (uri, decoder warning) beside it
then, on the launcher, the written rows are read back and `inputs = predicted + rejected`
is checked (data.accounting), and the output is rewritten sorted by key.

DirectRunner (in_memory) by default; `prepare`'s Beam flags send it to Dataflow.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import types
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from data import accounting, report, sources
from data.prepare import check_runner, default_beam_args, read_and_check
from data.progress import Progress
from data.validate import DEFAULT_MAX_PIXELS
from preprocessing import contract
from preprocessing.contract import KEY_OUTPUT, LABEL_OUTPUT, SCORE_OUTPUT, SCORES_OUTPUT
from tastebud.inference import Prediction, latest_version

MAX_BATCH_SIZE = 32  # images per model call, as in Transform and the serving graph


def _tensorflow_handler_base() -> type:
    """Beam's TFModelHandlerTensor, importable with TensorFlow 2.21.

    Beam's tensorflow_inference module imports tensorflow_hub, and tensorflow_hub 0.16
    imports `tf.compat.v1.estimator`, which TensorFlow removed in 2.16, so the import
    fails. The handler only uses `hub.resolve()` to load Keras models by URL, which
    ServingModelHandler replaces; when tensorflow_hub cannot be imported, a module with
    that one function (returning the path unchanged) stands in for it.
    """
    try:
        import tensorflow_hub  # noqa: F401
    except ImportError:
        shim = types.ModuleType("tensorflow_hub")
        shim.resolve = lambda handle: handle
        sys.modules["tensorflow_hub"] = shim
    from apache_beam.ml.inference.tensorflow_inference import TFModelHandlerTensor

    return TFModelHandlerTensor


FORMATS = ("csv", "jsonl")


@dataclass(frozen=True)
class BatchConfig:
    sources: list[str]
    model: str  # a serving dir (<output>/serving/<name>), one version's folder, or a phone model FILE.tflite
    out: str  # predictions file; <its name>_rejected.csv etc. go beside it
    output_format: str = "csv"
    max_pixels: int = DEFAULT_MAX_PIXELS
    beam_args: list[str] = field(default_factory=list)


def signature_inference(model, batch: Sequence, inference_args: dict, model_id: str | None = None):
    """Beam's inference_fn: a batch of encoded images (scalar string tensors) -> the signature's outputs."""
    import tensorflow as tf

    from tastebud.quiet import native_stderr_to_text

    images, signature = tf.stack(batch), model.signatures[contract.SERVING_SIGNATURE]
    keys = tf.fill(tf.shape(images), "")
    # The graph's JPEG decoder prints what ReadImage's check already noted for these images
    # (the same bytes through the same decoder): taken off stderr here, replayed if it raises.
    with native_stderr_to_text():
        outputs = signature(**{contract.IMAGE_INPUT: images, contract.KEY_INPUT: keys})
    rows = {name: value.numpy() for name, value in outputs.items()}
    return [
        PredictionResult(example, {name: values[i] for name, values in rows.items()}, model_id)
        for i, example in enumerate(batch)
    ]


class ServingModelHandler(_tensorflow_handler_base()):
    """Beam's TensorFlow model handler for the pushed serving graph (image bytes in, label out).

    The stock handler loads Keras models; the pushed model is a SavedModel whose
    `serving_default` signature holds the whole graph (decode, backbone, head), so it is
    loaded with `tf.saved_model.load` and called through that signature.
    """

    def __init__(self, model_dir: str):
        super().__init__(
            str(latest_version(model_dir)), inference_fn=signature_inference, max_batch_size=MAX_BATCH_SIZE
        )

    def load_model(self):
        import tensorflow as tf

        return tf.saved_model.load(self._model_uri)


class TFLiteModelHandler(ModelHandler):
    """Beam's model handler for a phone model (FILE.tflite), run in LiteRT (tastebud.tflite_model)."""

    def __init__(self, path: str):
        super().__init__(max_batch_size=MAX_BATCH_SIZE)
        self._path = path

    def load_model(self):
        from tastebud.tflite_model import TFLiteModel

        return TFLiteModel(self._path)

    def run_inference(self, batch: Sequence, model, inference_args: dict | None = None):
        predictions = model.predict([image.numpy() for image in batch])
        return [PredictionResult(image, p.as_outputs()) for image, p in zip(batch, predictions, strict=True)]


def model_handler(model: str) -> ModelHandler:
    """The phone model's handler for FILE.tflite, else the serving SavedModel's."""
    from tastebud.tflite_model import is_tflite

    return TFLiteModelHandler(model) if is_tflite(model) else ServingModelHandler(model)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ReadImage(beam.DoFn):
    """(key, scalar string tensor) for a usable image, or a rejection with prepare's reason;
    a note for an image the decoder read with a warning (it is still labelled)."""

    REJECTED, NOTED = "rejected", "noted"

    def __init__(self, max_pixels: int):
        self.max_pixels = max_pixels

    def process(self, item: sources.LabelledImage):
        import tensorflow as tf

        data, reason, note = read_and_check(item.uri, self.max_pixels)
        if data is None:
            yield beam.pvalue.TaggedOutput(self.REJECTED, (item.uri, reason))
            return
        if note:
            yield beam.pvalue.TaggedOutput(self.NOTED, (item.uri, note))
        yield item.uri, tf.constant(data)


class ToRow(beam.DoFn):
    """(key, PredictionResult) -> a dict row {key, label, score, scores{class: p}}; ticks progress."""

    def __init__(self, total: int):
        self.total = total

    def setup(self):
        self.progress = Progress.shared("[predict] labelled {done} of {total} images ({rate:.1f} img/s)", self.total)

    def process(self, element):
        key, result = element
        outputs = result.inference
        classes = [_text(c) for c in outputs[contract.CLASSES_OUTPUT]]
        scores = {c: float(s) for c, s in zip(classes, outputs[SCORES_OUTPUT], strict=True)}
        self.progress.tick()
        yield Prediction(key, _text(outputs[LABEL_OUTPUT]), float(outputs[SCORE_OUTPUT]), scores).as_json()


def format_line(row: dict, output_format: str, classes: list[str]) -> str:
    if output_format == "jsonl":
        return json.dumps(row, ensure_ascii=False)
    buffer = io.StringIO()
    scores = [row[SCORE_OUTPUT], *(row[SCORES_OUTPUT][c] for c in classes)]
    csv.writer(buffer, lineterminator="").writerow([row[KEY_OUTPUT], row[LABEL_OUTPUT], *(f"{s:.6f}" for s in scores)])
    return buffer.getvalue()


def build_pipeline(p: beam.Pipeline, cfg: BatchConfig, listing: sources.Listing) -> None:
    read = (
        p
        | "ListInputs" >> beam.Create(listing.items, reshuffle=True)
        | "ReadImage"
        >> beam.ParDo(ReadImage(cfg.max_pixels)).with_outputs(ReadImage.REJECTED, ReadImage.NOTED, main="ok")
    )
    _ = (
        read.ok
        | "RunInference" >> RunInference(KeyedModelHandler(model_handler(cfg.model)))
        | "ToRow" >> beam.ParDo(ToRow(len(listing.items)))
        | "ToJson" >> beam.Map(json.dumps, ensure_ascii=False)
        | "WritePredictions" >> beam.io.WriteToText(part_path(cfg.out), num_shards=1, shard_name_template="")
    )
    bad_rows = [(bad_row_key(cfg, b), b.reason) for b in listing.bad_rows]
    _ = (
        (p | "BadRows" >> beam.Create(bad_rows), read[ReadImage.REJECTED])
        | "AllRejected" >> beam.Flatten()
        | "WriteRejected" >> report.WriteRows(beside(cfg.out, contract.REJECTED_FILE))
    )
    _ = read[ReadImage.NOTED] | "WriteNotes" >> report.WriteRows(beside(cfg.out, contract.NOTES_FILE), report.NOTES)


def beside(out: str, name: str) -> str:
    """A report file beside the predictions, named after them (predictions_rejected.csv), so
    that labelling into a folder never overwrites another run's, or prepare's, rejected.csv."""
    folder, file = out.rsplit("/", 1) if "/" in out else (".", out)
    return f"{folder}/{file.rsplit('.', 1)[0]}_{name}"


def part_path(out: str) -> str:
    return f"{out}.part"  # the Beam job's unsorted JSON lines, replaced by the checked, sorted output


def read_rows(path: str) -> list[dict]:
    with FileSystems.open(path) as f:
        return [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip()]


def write_predictions(out: str, output_format: str, rows: list[dict]) -> None:
    """The final file, sorted by key: CSV with a header (one column per class) or JSON Lines."""
    rows = sorted(rows, key=lambda r: r[KEY_OUTPUT])
    classes = list(rows[0][SCORES_OUTPUT]) if rows else []
    lines = [] if output_format == "jsonl" else [format_header(classes)]
    lines += [format_line(row, output_format, classes) for row in rows]
    report.write_text(out, "".join(f"{line}\n" for line in lines))
    FileSystems.delete([part_path(out)])


def format_header(classes: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([KEY_OUTPUT, LABEL_OUTPUT, SCORE_OUTPUT, *classes])
    return buffer.getvalue()


def run(cfg: BatchConfig) -> dict:
    """Labels every image under cfg.sources; returns {input, predicted, rejected, skipped, labels}.

    Raises:
      FileNotFoundError: no model under cfg.model. ValueError: refused runner settings.
      accounting.AccountingError: the written rows do not match the inputs listed.
    """
    if cfg.output_format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
    model_version = check_model(cfg.model)  # fails early, before any work, when there is no model
    listing = sources.list_unlabelled(cfg.sources)
    options = PipelineOptions(cfg.beam_args or default_beam_args())
    check_runner(options)
    print(f"[predict] {listing.total} inputs, model {model_version}", file=sys.stderr)
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, cfg, listing)
    rows = read_rows(part_path(cfg.out))
    rejected = accounting.read_rejected(beside(cfg.out, contract.REJECTED_FILE))
    expected = [i.uri for i in listing.items] + [bad_row_key(cfg, b) for b in listing.bad_rows]
    accounting.compare(expected, [r[KEY_OUTPUT] for r in rows] + [uri for uri, _ in rejected], job="predict")
    write_predictions(cfg.out, cfg.output_format, rows)
    report.write_rows(beside(cfg.out, contract.SKIPPED_FILE), [(s.uri, s.reason) for s in listing.skipped])
    return summarize(listing, rows, rejected, accounting.read_rejected(beside(cfg.out, contract.NOTES_FILE)))


def check_model(model: str) -> str:
    """The model's path (the newest version's, for a serving dir); FileNotFoundError when there is none."""
    from tastebud.tflite_model import is_tflite

    if is_tflite(model):
        if not FileSystems.exists(model):
            raise FileNotFoundError(f"no such .tflite file: {model}")
        return model
    return str(latest_version(model))


def bad_row_key(cfg: BatchConfig, row: sources.BadRow) -> str:
    return accounting.bad_row_key(", ".join(cfg.sources), row)


def summarize(listing: sources.Listing, rows: Iterable[dict], rejected: list, noted: list = ()) -> dict:
    rows = list(rows)
    return {
        "input": listing.total,
        "predicted": len(rows),
        "rejected": len(rejected),
        "skipped": len(listing.skipped),
        "noted": len(noted),
        "labels": dict(sorted(Counter(r[LABEL_OUTPUT] for r in rows).items())),
    }
