"""The backbone as an already-traced SavedModel, converted once and cached by weights.

TFT traces preprocessing_fn several times per run (analysis, metadata, saving the
transform graph), and a Keras model is re-traced layer by layer each time; saving it
also makes tf_keras trace every layer's call functions once more. Measured on 100
images with Lite0 (py-spy, bench/transform_bench.py): about 25 s of a 57 s Transform
went to that tracing and saving, against 4 s of actual embedding.

So the Keras feature extractor is saved once as a plain SavedModel with one concrete
function, `embed`: float32 [batch, size, size, 3] RGB in [0, 255] -> float32
[batch, embedding_size], its weights frozen into the graph as constants. Every later
trace calls that function (one call op); saving and loading the transform graph (and
the Trainer's serving model, and the Evaluator's load of it) move function definitions
instead of reviving Keras layers and saving and restoring some 250 variables. The ops
are the Keras model's own, so the embeddings agree with the Keras model's to 1e-5
(tests/unit/test_traced_backbone.py). Measured on the 550-photo pipeline (2 cores, shared):
Transform 42 -> 29 s, Trainer 9.9 -> 5.3 s from freezing alone.

The cache lives in the weights cache (preprocessing.efficientnet_lite.weights_cache_dir),
one folder per (backbone, weights file's SHA-256, TensorFlow version). It is written to
a temporary folder and renamed, so concurrent workers never read a half-written one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from preprocessing.backbones import RANDOM_WEIGHTS, get_backbone
from preprocessing.contract import SAVED_MODEL_FILE
from preprocessing.efficientnet_lite import file_sha256, weights_cache_dir

FORMAT_VERSION = "3"  # bump when the exported function changes
_LOADED: dict[Path, object] = {}


def cache_key(name: str, resolved_weights: str) -> str:
    """A folder name for (backbone, weights content, TF version, this module's format)."""
    weights = RANDOM_WEIGHTS if resolved_weights == RANDOM_WEIGHTS else file_sha256(Path(resolved_weights))
    digest = hashlib.sha256(f"{name}|{weights}|{tf.__version__}|{FORMAT_VERSION}".encode()).hexdigest()
    return f"{name}-traced-{digest[:16]}"


def export(name: str, resolved_weights: str, target: Path) -> None:
    """Saves the Keras feature extractor as a SavedModel with one signature-less `embed` function."""
    backbone = get_backbone(name)
    extractor = backbone.build_feature_extractor(resolved_weights)
    spec = tf.TensorSpec([None, backbone.input_size, backbone.input_size, 3], tf.float32, name="pixels")
    traced = tf.function(lambda pixels: extractor(pixels, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(traced)  # weights become constants of the graph
    module = tf.Module()
    module.embed = tf.function(lambda pixels: frozen(pixels)[0], input_signature=[spec])
    partial = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    tf.saved_model.save(module, str(partial))
    try:
        os.replace(partial, target)
    except OSError:  # another worker got there first: theirs is as good
        shutil.rmtree(partial, ignore_errors=True)
        if not (target / SAVED_MODEL_FILE).exists():
            raise


def saved_model_path(name: str, weights: str | None = None) -> Path:
    """The cached traced SavedModel for a backbone, exported on first use.

    weights: as for Backbone.build_feature_extractor (None: the backbone's own
    resolution). Raises BackboneWeightsError when the weights cannot be found."""
    resolved = get_backbone(name).resolve_weights(weights)
    target = weights_cache_dir() / cache_key(name, resolved)
    if not (target / SAVED_MODEL_FILE).exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        export(name, resolved, target)
    return target


def load(name: str, weights: str | None = None):
    """The loaded SavedModel (its `embed` function), one per process and cache folder.

    May be called while TFT traces preprocessing_fn, where not even tf.init_scope()
    leaves graph mode: exporting and loading run in a thread of their own, which starts
    eager (TF's execution mode is per thread)."""
    path = saved_model_path_eagerly(name, weights)
    if path not in _LOADED:
        with ThreadPoolExecutor(1) as pool:
            _LOADED[path] = pool.submit(tf.saved_model.load, str(path)).result()
    return _LOADED[path]


def saved_model_path_eagerly(name: str, weights: str | None = None) -> Path:
    """saved_model_path, run in a fresh (eager) thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(saved_model_path, name, weights).result()
