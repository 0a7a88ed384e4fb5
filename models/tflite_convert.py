"""The phone SavedModel (models/phone_export.py) -> model.tflite, with TFX's TFLiteRewriter.

Quantisations (post-training, tf.lite.Optimize.DEFAULT in each):
  dynamic  (default) int8 weights, float activations: about 4x smaller, no data needed;
  int8     int8 weights and activations wherever an op allows (float fallback for the
           rest, e.g. the resize weights computed from the frame's size), calibrated on
           a representative set of decoded train-split photos;
  float16  float16 weights: about 2x smaller, float arithmetic.

The rewriter is tfx.components.trainer.rewriting's, the one TFX's Trainer examples call
in their run_fn. It runs here, in the PhoneExport component, not in run_fn: it converts
a SavedModel's signature, and the serving SavedModel's takes JPEG bytes through the
Transform graph (DecodeJpeg and string ops, which LiteRT has no kernels for); and a
component of its own lets `--tflite` reuse a cached Trainer and Evaluator.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf
from tfx.components.trainer.rewriting import rewriter, rewriter_factory

from models import tflite_metadata
from preprocessing.contract import SERVING_SIGNATURE, TFLITE_FILE

QUANTIZATIONS = {
    "dynamic": "dynamic-range (int8 weights)",
    "int8": "full-integer int8 (weights and activations, train-split calibration)",
    "float16": "float16 weights",
}


def _rewriter_args(quantization: str, representative: Callable[[], Iterable[np.ndarray]] | None) -> dict:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
    args = {"quantization_optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantization == "float16":
        args["quantization_supported_types"] = [tf.float16]
    if quantization == "int8":
        if representative is None:
            raise ValueError("int8 quantization needs representative images")
        # The converter calls it and reads one list of inputs per sample: [a batch of one frame].
        args["representative_dataset"] = lambda: ([frame[None]] for frame in representative())
        args["quantization_enable_full_integer"] = True
    return args


def convert(
    saved_model_dir: str,
    target: Path,
    quantization: str,
    metadata: tflite_metadata.PhoneMetadata,
    representative: Callable[[], Iterable[np.ndarray]] | None = None,
) -> Path:
    """Converts saved_model_dir's serving_default to target (a .tflite with metadata and labels).

    representative: for int8, a function returning uint8 [height, width, 3] frames."""
    tflite_rewriter = rewriter_factory.create_rewriter(
        rewriter_factory.TFLITE_REWRITER,
        name="tastebud_phone",
        filename=TFLITE_FILE,
        copy_assets=False,
        copy_assets_extra=False,
        signature_key=SERVING_SIGNATURE,
        **_rewriter_args(quantization, representative),
    )
    with tempfile.TemporaryDirectory(prefix="tflite-", dir=str(target.parent)) as tmp:
        tflite_rewriter.perform_rewrite(
            rewriter.ModelDescription(rewriter.ModelType.SAVED_MODEL, saved_model_dir),
            rewriter.ModelDescription(rewriter.ModelType.TFLITE_MODEL, tmp),
        )
        converted = (Path(tmp) / TFLITE_FILE).read_bytes()
    target.write_bytes(tflite_metadata.populate(converted, metadata))
    return target
