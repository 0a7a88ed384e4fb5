"""The REST half of the TF Serving stand-in: TF Serving's HTTP/JSON API on a stdlib server.

  POST /v1/models/NAME[/versions/N]:predict
       {"signature_name": ..., "instances": [...]}  row format -> {"predictions": [...]}
       {"signature_name": ..., "inputs": {...}}     columnar   -> {"outputs": ...}
       DT_STRING values may be {"b64": "..."}; string outputs whose alias ends in
       "_bytes" come back as {"b64": ...}, as TF Serving writes them.
  GET  /v1/models/NAME[/versions/N]            model status
  GET  /v1/models/NAME[/versions/N]/metadata   SignatureDefs (proto JSON, field names kept)
Errors are {"error": "..."} with TF Serving's status -> HTTP code mapping
(http_server.cc: INVALID_ARGUMENT/FAILED_PRECONDITION 400, NOT_FOUND 404, ...).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from http.server import BaseHTTPRequestHandler

import numpy as np
from google.protobuf import json_format
from standin_bundle import Bundle, ServingError

HTTP_CODES = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
_PREDICT = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+))?:(classify|regress|predict)")
_STATUS = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?(?:/(metadata))?")


def _invalid(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def _decode_value(value, is_string: bool):
    """One JSON leaf (or nested list) -> Python value; {"b64": ...} only for DT_STRING."""
    if isinstance(value, list):
        return [_decode_value(v, is_string) for v in value]
    if isinstance(value, dict):
        if not (is_string and set(value) == {"b64"}):
            raise _invalid(f"JSON object {json.dumps(value)[:80]} where a value was expected")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, TypeError):
            raise _invalid("Unable to base64 decode") from None
    return value.encode() if is_string and isinstance(value, str) else value


def _tensor(values, dtype) -> np.ndarray:
    """JSON values (nested lists) -> an array of the input's dtype (object = DT_STRING)."""
    try:
        return np.array(_decode_value(values, dtype is object), dtype=dtype)
    except (ValueError, TypeError) as e:
        raise _invalid(f"cannot read a {np.dtype(dtype).name} tensor from JSON: {e}") from None


def parse_predict_body(body: bytes, dtypes: dict[str, type]) -> tuple[dict[str, np.ndarray], bool]:
    """Request JSON -> (alias -> batch array, row_format). `dtypes` from Bundle.input_dtypes."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise _invalid(f"JSON Parse error: {e}") from None
    if not isinstance(doc, dict) or ("instances" in doc) == ("inputs" in doc):
        what = "Missing 'inputs' or 'instances' key" if isinstance(doc, dict) else "JSON body must be an object"
        raise _invalid(what)
    if "instances" in doc:
        return _parse_rows(doc["instances"], dtypes), True
    columns = doc["inputs"]
    if not isinstance(columns, dict):
        if len(dtypes) != 1:
            raise _invalid("'inputs' must be an object keyed by input name when the signature has several inputs")
        columns = {next(iter(dtypes)): columns}
    return {k: _tensor(v, dtypes.get(k, object)) for k, v in columns.items()}, False


def _parse_rows(rows, dtypes: dict[str, type]) -> dict[str, np.ndarray]:
    if not isinstance(rows, list) or not rows:
        raise _invalid("'instances' must be a non-empty JSON list")
    if not all(isinstance(r, dict) and set(r) != {"b64"} for r in rows):
        if len(dtypes) != 1:
            raise _invalid("instances must be JSON objects keyed by input name when the signature has several inputs")
        rows = [{next(iter(dtypes)): r} for r in rows]
    names = set(rows[0])
    if any(set(r) != names for r in rows):
        raise _invalid("Failed to process element: 1 of 'instances' list. All instances must have the same keys")
    return {k: _tensor([r[k] for r in rows], dtypes.get(k, object)) for k in names}


def _json_value(value: np.ndarray | np.generic | bytes, as_b64: bool):
    if isinstance(value, np.ndarray):
        return [_json_value(v, as_b64) for v in value]
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")} if as_b64 else value.decode("utf-8", "replace")
    return value.item() if isinstance(value, np.generic) else value


def predict_response(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    """Session outputs -> TF Serving's JSON: one object per row, or columns; a lone
    output is written bare (no alias), as TF Serving does."""
    encoded = {k: _json_value(np.asarray(v), k.endswith("_bytes")) for k, v in outputs.items()}
    if not row_format:
        return {"outputs": encoded if len(encoded) > 1 else next(iter(encoded.values()))}
    n = len(next(iter(encoded.values())))
    if len(encoded) == 1:
        return {"predictions": next(iter(encoded.values()))}
    return {"predictions": [{k: v[i] for k, v in encoded.items()} for i in range(n)]}


def _message_dict(message) -> dict:
    """Proto -> JSON dict as TF Serving prints it (field names kept, defaults printed)."""
    try:
        return json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
    except TypeError:  # protobuf < 5 (the TF 2.15 runtime) names the option differently
        return json_format.MessageToDict(message, preserving_proto_field_name=True, including_default_value_fields=True)


def status_response(bundle: Bundle) -> dict:
    status = {"version": str(bundle.version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    return {"model_version_status": [status]}


def metadata_response(bundle: Bundle) -> dict:
    signatures = {name: _message_dict(sig) for name, sig in bundle.signatures.items()}
    spec = {"name": bundle.name, "signature_name": "", "version": str(bundle.version)}
    return {"model_spec": spec, "metadata": {"signature_def": {"signature_def": signatures}}}


def route(bundle: Bundle, method: str, path: str, body: bytes) -> dict:
    """One REST call -> the JSON answer; raises ServingError (Malformed request for other paths)."""
    match = _PREDICT.fullmatch(path) if method == "POST" else _STATUS.fullmatch(path) if method == "GET" else None
    if not match:
        raise _invalid(f"Malformed request: {method} {path}")
    name, version = match.group(1), match.group(2)
    if not name:
        raise _invalid("Missing model name in request.")
    bundle.check_spec(name, int(version) if version else None)
    if method == "GET":
        return metadata_response(bundle) if match.group(3) else status_response(bundle)
    if match.group(3).lower() != "predict":
        raise ServingError("UNIMPLEMENTED", f"{match.group(3)} is not served by the stand-in (only predict)")
    signature = _signature_name(body)
    inputs, row_format = parse_predict_body(body, bundle.input_dtypes(signature))
    return predict_response(bundle.run(signature, inputs), row_format)


def _signature_name(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""  # parse_predict_body reports the parse error
    return doc.get("signature_name", "") if isinstance(doc, dict) else ""


def handler_class(bundle: Bundle) -> type[BaseHTTPRequestHandler]:
    """A BaseHTTPRequestHandler serving `bundle` (for http.server.ThreadingHTTPServer)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet, like TF Serving at its default verbosity
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                status, doc = 200, route(bundle, self.command, self.path, body)
            except ServingError as e:
                status, doc = HTTP_CODES.get(e.code, 500), {"error": e.message}
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    return Handler
