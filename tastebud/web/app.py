"""The prediction web app: a page to upload photos, POST /predict, GET /healthz, GET /stats.

Uploads are read into memory (multipart spooling to disk is disabled up to the size
limit) and never written anywhere. Bad uploads get a 4xx JSON error with a reason.

With `batching` (`tastebud serve --model`), concurrent requests share model calls
(tastebud/web/batching.py) and uploads get the header check only: the model's own decode
is the decodability check, and a photo it cannot decode gets the same 400 and reason as
before, while its batch-mates get their answers. A full queue answers 503, a request not
answered within the deadline 504. Without it (`--server`: TF Serving batches on its own
side), every upload is fully decoded once by the check and calls run one at a time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from data.validate import ImageCheck, readable_tf_error
from tastebud.clients import PredictionClient, ServerError
from tastebud.web.batching import BatchingParams, DeadlineExceeded, ImageFailed, MicroBatcher, QueueFull
from tastebud.web.uploads import Limits, UploadError, check_upload, decode_rejection

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Pure ASGI middleware: SECURITY_HEADERS on every HTTP response (cheaper per request than
    Starlette's BaseHTTPMiddleware, which wraps each response in a stream)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(status: int, reason: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def _answer(names: list[str], version: str, predictions: list) -> JSONResponse:
    """The 200 answer (a JSONResponse: FastAPI's encoder walk over a returned dict costs more)."""
    return JSONResponse(
        {
            "model_version": version,
            "predictions": [{"filename": n, **p.as_json()} for n, p in zip(names, predictions, strict=True)],
        }
    )


async def _predict_batched(
    batcher: MicroBatcher, names: list[str], images: list[bytes], checks: list[ImageCheck]
) -> JSONResponse:
    """The answer for one request through the batcher, or its JSON error (4xx/5xx)."""
    try:
        return _answer(names, *await batcher.predict(images, names))
    except QueueFull as e:
        return _error(503, f"server busy: {e}; retry in a moment", {"Retry-After": "1"})
    except DeadlineExceeded as e:
        return _error(504, f"{e}: the model is busy or a photo is slow to decode; retry in a moment")
    except ImageFailed as e:
        rejection = decode_rejection(names[e.index], checks[e.index].image_format, e.error)
        if rejection is not None:
            return _error(rejection.status, rejection.reason)
        return _error(500, f"the model failed on {names[e.index]}: {readable_tf_error(e.error)}")
    except ServerError as e:
        return _error(502, str(e))
    except Exception as e:  # the model's own fault, not pinned on one image
        return _error(500, f"the model failed: {readable_tf_error(e)}")


async def _read_files(request: Request, limits: Limits) -> list[tuple[str, bytes]]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UploadError(415, "send the photos as multipart/form-data file fields (any field name)")
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise UploadError(411, "a Content-Length header is required")
    if int(declared) > limits.max_request_bytes:
        raise UploadError(413, f"request too large: {declared} bytes (limit {limits.max_request_bytes})")
    try:
        form = await request.form(max_files=limits.max_files, max_fields=limits.max_files, max_part_size=1024 * 1024)
    except (MultiPartException, HTTPException) as e:  # Starlette wraps parser errors in a 400
        message = str(getattr(e, "detail", None) or getattr(e, "message", None) or e)
        status = 413 if "Too many" in message else 400
        raise UploadError(status, f"malformed or over-limit multipart body: {message}") from None
    files = []
    for _, value in form.multi_items():
        if hasattr(value, "read"):
            files.append((value.filename or "upload", await value.read()))
    if not files:
        raise UploadError(400, "no files in the upload (send each photo as a multipart file field)")
    return files


def create_app(
    client: PredictionClient, limits: Limits | None = None, batching: BatchingParams | None = None
) -> FastAPI:
    """The app for `client`. With `batching`, requests share model calls (see the module doc)."""
    limits = limits or Limits()
    # Keep uploads in memory (the body is capped by max_request_bytes): never spooled to disk.
    MultiPartParser.spool_max_size = limits.max_request_bytes + 1
    app = FastAPI(title="tastebud", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    lock = asyncio.Lock()  # without batching: TF calls run in a worker thread, one request at a time
    batcher = app.state.batcher = MicroBatcher(client.predict, batching) if batching else None

    app.add_middleware(SecurityHeaders)

    @app.get("/")
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/healthz")
    async def healthz():
        try:
            version = await asyncio.to_thread(client.version)
        except ServerError as e:
            return JSONResponse({"status": "unavailable", "error": str(e)}, status_code=503)
        return {"status": "ok", "model_version": version}

    @app.get("/stats")
    async def stats():
        return {"batching": batcher.stats() if batcher else None}

    @app.post("/predict")
    async def predict(request: Request):
        try:
            files = await _read_files(request, limits)
            checks = [check_upload(name, data, limits, decode=batcher is None) for name, data in files]
        except UploadError as e:
            return _error(e.status, e.reason)
        images, names = [data for _, data in files], [name for name, _ in files]
        if batcher is not None:
            return await _predict_batched(batcher, names, images, checks)
        try:
            async with lock:
                version, predictions = await asyncio.to_thread(client.predict, images, names)
        except ServerError as e:
            return _error(502, str(e))
        return _answer(names, version, predictions)

    return app
