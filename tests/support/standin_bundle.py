"""The model half of the TF Serving stand-in: a SavedModel held the way TF Serving holds it.

TF Serving (C++) loads a version as a SavedModelBundle: the MetaGraphDef tagged
`serve`, imported into one graph with one Session, variables restored and the init op
run; a request then feeds and fetches the SignatureDef's tensor names in that session.
`Bundle` does the same through `tf.compat.v1.saved_model.loader.load`, never
`tf.saved_model.load` (which rebuilds Python functions and would hide ops or attributes
that a graph runtime does not know).

Runs inside a serving environment (TensorFlow 2.19.1 = tensorflow/serving:2.19.1, or
2.15.1 = Vertex AI's tf2-cpu.2-15); it imports nothing from the project.

Errors are `ServingError`s carrying the gRPC status name TF Serving uses, with TF
Serving's message texts where this file copies them (model lookup, signature lookup,
input keys, output filter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

DEFAULT_SIGNATURE = "serving_default"
SERVE_TAG = "serve"
# TensorFlow's error codes are gRPC's (absl::StatusCode): number -> name.
_CODE_NAMES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}


class ServingError(Exception):
    """A request TF Serving would refuse. `code` is a gRPC status name, e.g. "NOT_FOUND"."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def newest_version(name: str, base_path: Path) -> Path:
    """<base_path>/<largest numeric folder>, TF Serving's default version policy.

    Raises FileNotFoundError (TF Serving's wording) when no version folder exists."""
    versions = [p for p in base_path.iterdir() if p.name.isdigit()] if base_path.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"No versions of servable {name} found under base path {base_path}")
    return max(versions, key=lambda p: int(p.name))


class Bundle:
    """One loaded model version: MetaGraphDef, SignatureDefs and a single Session.

    Raises UnknownOpError when the graph or its function library uses an op this
    runtime does not register, else whatever TensorFlow raises for a graph it cannot
    import or initialise."""

    def __init__(self, name: str, base_path: Path):
        path = newest_version(name, base_path)
        self.name, self.version, self.path = name, int(path.name), path
        check_ops_known(path)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            self.meta_graph = tf.compat.v1.saved_model.loader.load(self.session, [SERVE_TAG], str(path))
        self.signatures = dict(self.meta_graph.signature_def)

    def check_spec(self, name: str, version: int | None) -> None:
        """Raises NOT_FOUND, as TF Serving's ServerCore does, for another model or version."""
        if name != self.name:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if version is not None and version != self.version:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")

    def signature(self, name: str, code: str = "FAILED_PRECONDITION"):
        """The SignatureDef called `name` ("" = serving_default); gRPC Predict answers
        FAILED_PRECONDITION for an unknown one, REST's input parsing INVALID_ARGUMENT."""
        key = name or DEFAULT_SIGNATURE
        if key not in self.signatures:
            raise ServingError(code, f'Serving signature name: "{key}" not found in signature def')
        return self.signatures[key]

    def input_dtypes(self, signature_name: str) -> dict[str, np.dtype]:
        """Input alias -> numpy dtype (object for DT_STRING)."""
        sig = self.signature(signature_name, code="INVALID_ARGUMENT")
        return {k: tf.as_dtype(v.dtype).as_numpy_dtype for k, v in sig.inputs.items()}

    def run(self, signature_name: str, inputs: dict[str, np.ndarray], output_filter=()) -> dict[str, np.ndarray]:
        """Feeds `inputs` (alias -> array, batch first) to the signature's tensors in the
        one session; returns alias -> array for every output, or those in output_filter."""
        sig = self.signature(signature_name)
        _check_input_keys(set(inputs), set(sig.inputs))
        wanted = list(output_filter) or list(sig.outputs)
        unknown = [alias for alias in wanted if alias not in sig.outputs]
        if unknown:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"output tensor alias not found in signature: {unknown[0]} "
                f"Outputs expected to be in the set {{{','.join(sorted(sig.outputs))}}}.",
            )
        feed = {sig.inputs[alias].name: value for alias, value in inputs.items()}
        fetch = {alias: sig.outputs[alias].name for alias in wanted}
        try:
            return self.session.run(fetch, feed_dict=feed)
        except tf.errors.OpError as e:
            raise ServingError(_CODE_NAMES.get(e.error_code, "UNKNOWN"), e.message) from None
        except (ValueError, TypeError) as e:  # a feed of the wrong type or shape
            raise ServingError("INVALID_ARGUMENT", str(e).splitlines()[0]) from None


class UnknownOpError(ValueError):
    """The SavedModel uses an op type this TensorFlow runtime does not register."""


def check_ops_known(path: Path) -> None:
    """Refuses a SavedModel whose `serve` graph or function library uses an op type this
    runtime lacks. TF's loader only imports the top-level graph eagerly; ops inside
    functions (where TF2 SavedModels keep the model) would fail on the first request
    instead, so this checks them all up front. Raises UnknownOpError naming op and place."""
    saved = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    for meta in saved.meta_graphs:
        if SERVE_TAG not in meta.meta_info_def.tags:
            continue
        functions = {f.signature.name for f in meta.graph_def.library.function}
        places = [("the graph", meta.graph_def.node)]
        places += [(f"function {f.signature.name}", f.node_def) for f in meta.graph_def.library.function]
        for place, nodes in places:
            for node in nodes:
                if node.op not in functions and op_def_registry.get(node.op) is None:
                    raise UnknownOpError(
                        f"Op type not registered '{node.op}' in TensorFlow {tf.__version__} "
                        f"(node '{node.name}' in {place}); a runtime this old cannot serve the model"
                    )


def _check_input_keys(sent: set[str], expected: set[str]) -> None:
    """TF Serving's predict_util check, with its message."""
    if sent == expected:
        return
    raise ServingError(
        "INVALID_ARGUMENT",
        f"input size does not match signature: {len(sent)}!={len(expected)} "
        f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
        f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
        f"Missing but required: {{{','.join(sorted(expected - sent))}}}.",
    )
