"""PhoneExport: the pushed model as a quantised LiteRT .tflite, checked against the SavedModel.

    Trainer -> Evaluator -> Pusher -> PhoneExport   (local_runner.py --tflite)

When the Pusher pushed the SavedModel, PhoneExport builds the phone graph
(models/phone_export.py: decoded RGB frame -> scores, resize and normalisation inside),
converts it with TFX's TFLiteRewriter (models/tflite_convert.py), puts the labels inside
the file (models/tflite_metadata.py), then runs the .tflite (LiteRT) and the pushed
SavedModel over the same eval photos. Only when the .tflite's accuracy is within the
margin (pipeline/phone_check.py) does it go to <base_directory>/<version>/model.tflite,
with labels.txt beside it and the SavedModel's version number. Its artifact keeps the
.tflite, the phone SavedModel and check.json whatever the outcome.
"""

# No `from __future__ import annotations`: TFX reads PhoneExport's annotations as types.
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact

from pipeline.phone_check import CHECK_FILE, NOT_PUSHED, PUSHED, SKIPPED, PhoneCheck, verdict
from preprocessing import contract


class PhoneModel(Artifact):
    """PhoneExport's output: model.tflite, saved_model/ (the phone graph) and check.json."""

    TYPE_NAME = "tastebud.PhoneModel"  # KFP/Vertex schema titles need "namespace.Name"


QUANTIZATION = "dynamic"  # dynamic (int8 weights), int8 (weights + activations) or float16
REPRESENTATIVE_IMAGES = 100  # train-split photos that calibrate int8 activations


def _examples(examples_uri: str, split: str, limit: int | None = None) -> list[tuple[str, str, bytes]]:
    import tensorflow as tf

    from data.examples import read_examples

    return read_examples(sorted(tf.io.gfile.glob(f"{examples_uri}/Split-{split}/*")), limit)


def _labels(serving_dir: str) -> list[str]:
    import tensorflow as tf

    return contract.read_labels_file(f"{serving_dir}/{contract.MODEL_LABELS_FILE}", tf.io.gfile.GFile)


def _is_remote(uri: str) -> bool:
    """gs:// and other non-local filesystems: written through tf.io.gfile, no renames."""
    return "://" in uri


def convert(model_uri: str, work: Path, backbone: str, quantization: str, version: str, representative=None) -> Path:
    """work/saved_model (the phone graph, save_phone_model) converted to work/model.tflite with its metadata."""
    from models import tflite_convert, tflite_metadata
    from preprocessing.backbones import get_backbone

    size = get_backbone(backbone).input_size
    metadata = tflite_metadata.PhoneMetadata(
        name=f"tastebud {backbone}",
        description=f"tastebud image classifier ({backbone} + head), {tflite_convert.QUANTIZATIONS[quantization]}",
        version=version,
        input_name=contract.PHONE_IMAGE_INPUT,
        input_description=f"uint8 [1, height, width, 3] RGB in 0-255, upright, any size; resized to {size}x{size} "
        "(antialiased bilinear) and normalised inside the model",
        input_size=size,
        output_name=contract.SCORES_OUTPUT,
        output_description=f"float32 [1, classes] softmax scores, in {contract.PHONE_LABELS_FILE}'s order",
        labels_file=contract.PHONE_LABELS_FILE,
        labels=_labels(f"{model_uri}/{contract.SERVING_MODEL_DIR}"),
    )
    target = work / contract.TFLITE_FILE
    return tflite_convert.convert(str(work / "saved_model"), target, quantization, metadata, representative)


def train_frames(examples_uri: str, size: int, count: int) -> Callable[[], list]:
    """The representative set for int8: the first `count` train-split photos, decoded as on the host."""
    from tastebud.tflite_model import decode_frame

    frames = [decode_frame(image, size) for _, _, image in _examples(examples_uri, "train", count)]
    return lambda: frames


def check_and_push(
    tflite: Path, serving_dir: str, examples_uri: str, destination: str | Path, check: PhoneCheck
) -> PhoneCheck:
    """Both models over the eval split; pushes tflite (+ labels.txt) to destination when it passes."""
    from tastebud.clients import LocalClient
    from tastebud.tflite_model import TFLiteModel

    started = time.monotonic()
    examples = _examples(examples_uri, "eval")
    images, keys, truth = [e[2] for e in examples], [e[0] for e in examples], [e[1] for e in examples]
    phone = TFLiteModel(tflite)
    labels = _labels(serving_dir)
    if phone.labels != labels:  # the promise that the file carries dict.txt, checked on every export
        raise RuntimeError(f"labels inside {tflite} {phone.labels} differ from {contract.LABELS_FILE} {labels}")
    _, saved = LocalClient(serving_dir).predict(images, keys)
    lite = phone.predict(images, keys)
    check.eval_count = len(examples)
    check.saved_model_correct = sum(p.label == t for p, t in zip(saved, truth, strict=True))
    check.tflite_correct = sum(p.label == t for p, t in zip(lite, truth, strict=True))
    check.agreement = sum(a.label == b.label for a, b in zip(saved, lite, strict=True))
    check.size_bytes = tflite.stat().st_size
    ok, check.reason = verdict(check.saved_model_correct, check.tflite_correct, check.eval_count)
    check.status = PUSHED if ok else NOT_PUSHED
    if ok:
        push(tflite, labels, str(destination))
        check.destination = f"{destination}/{tflite.name}"
    check.check_s = time.monotonic() - started
    return check


def push(tflite: Path, labels: list[str], destination: str) -> None:
    """destination/model.tflite and labels.txt. Locally, written beside it first and renamed
    into place; on gs:// (Vertex) through tf.io.gfile, labels.txt first and the model last."""
    text, labels_file = contract.labels_text(labels), contract.PHONE_LABELS_FILE
    if _is_remote(destination):
        import tensorflow as tf

        if tf.io.gfile.exists(destination):  # the same version exported again (other settings)
            tf.io.gfile.rmtree(destination)
        tf.io.gfile.makedirs(destination)
        with tf.io.gfile.GFile(f"{destination}/{labels_file}", "w") as f:
            f.write(text)
        tf.io.gfile.copy(str(tflite), f"{destination}/{tflite.name}", overwrite=True)
        return
    destination = Path(destination)
    partial = destination.with_name(f"{destination.name}.partial{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copy2(tflite, partial / tflite.name)
    (partial / labels_file).write_text(text)
    shutil.rmtree(destination, ignore_errors=True)
    os.replace(partial, destination)


def copy_tree(local: Path, uri: str) -> None:
    """local's files to uri (the artifact's folder on gs://), through tf.io.gfile."""
    import tensorflow as tf

    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        target = f"{uri}/{path.relative_to(local).as_posix()}"
        tf.io.gfile.makedirs(target.rsplit("/", 1)[0])
        tf.io.gfile.copy(str(path), target, overwrite=True)


@component
def PhoneExport(
    model: InputArtifact[standard_artifacts.Model],
    examples: InputArtifact[standard_artifacts.Examples],
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    phone_model: OutputArtifact[PhoneModel],
    backbone: Parameter[str],
    base_directory: Parameter[str],
    quantization: Parameter[str] = QUANTIZATION,
    backbone_weights: Parameter[str] = "",
    representative_images: Parameter[int] = REPRESENTATIVE_IMAGES,
) -> None:
    remote = _is_remote(phone_model.uri)  # on Vertex: work in a local folder, then copy it up
    with tempfile.TemporaryDirectory(prefix="phone-") if remote else nullcontext(phone_model.uri) as folder:
        work = Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        if not pushed_model.get_int_custom_property("pushed"):
            check = PhoneCheck(SKIPPED, "the SavedModel was not pushed by this run")
        else:
            version = pushed_model.get_string_custom_property("pushed_version")
            settings = (backbone, quantization, backbone_weights, representative_images)
            check = export_and_check(model.uri, examples.uri, work, f"{base_directory.rstrip('/')}/{version}", settings)
        (work / CHECK_FILE).write_text(check.to_json())
        if remote:
            copy_tree(work, phone_model.uri)
    phone_model.set_string_custom_property("status", check.status)
    phone_model.set_string_custom_property("destination", check.destination)


def export_and_check(model_uri: str, examples_uri: str, work: Path, destination: str, settings: tuple) -> PhoneCheck:
    """The phone graph, its .tflite and the check against the SavedModel, in the local folder work."""
    from models.phone_export import save_phone_model
    from models.tflite_convert import QUANTIZATIONS
    from preprocessing.backbones import get_backbone

    backbone, quantization, backbone_weights, representative_images = settings
    version = destination.rsplit("/", 1)[-1]
    started = time.monotonic()
    save_phone_model(model_uri, backbone, backbone_weights, str(work / "saved_model"))
    built = time.monotonic()
    representative = None
    if quantization == "int8":
        representative = train_frames(examples_uri, get_backbone(backbone).input_size, representative_images)
    tflite = convert(model_uri, work, backbone, quantization, version, representative)
    check = PhoneCheck(NOT_PUSHED, "", QUANTIZATIONS[quantization], build_s=built - started)
    check.convert_s = time.monotonic() - built
    return check_and_push(tflite, f"{model_uri}/{contract.SERVING_MODEL_DIR}", examples_uri, destination, check)


def read_check(run) -> PhoneCheck | None:
    """The check of a pipeline run's PhoneExport (a pipeline.results.ComponentRun), if it ran."""
    import tensorflow as tf

    artifact = run.output("phone_model") if run else None
    path = f"{artifact.uri}/{CHECK_FILE}" if artifact else None
    if not path or not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return PhoneCheck.from_json(f.read())
