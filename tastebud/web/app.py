"""The prediction web app: a page to upload photos, POST /predict, GET /healthz.

Uploads are read into memory (multipart spooling to disk is disabled up to the size
limit) and never written anywhere. Bad uploads get a 4xx JSON error with a reason.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from tastebud.clients import PredictionClient, ServerError
from tastebud.web.uploads import Limits, UploadError, check_upload

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


async def _read_files(request: Request, limits: Limits) -> list[tuple[str, bytes]]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UploadError(415, "send the photos as multipart/form-data (field name: files)")
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
        raise UploadError(400, "no files in the upload (field name: files)")
    return files


def create_app(client: PredictionClient, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    # Keep uploads in memory (the body is capped by max_request_bytes): never spooled to disk.
    MultiPartParser.spool_max_size = limits.max_request_bytes + 1
    app = FastAPI(title="tastebud", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    lock = asyncio.Lock()  # TF calls run in a worker thread, one batch at a time

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

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

    @app.post("/predict")
    async def predict(request: Request):
        try:
            files = await _read_files(request, limits)
            for name, data in files:
                check_upload(name, data, limits)
        except UploadError as e:
            return _error(e.status, e.reason)
        images, names = [data for _, data in files], [name for name, _ in files]
        try:
            async with lock:
                version, predictions = await asyncio.to_thread(client.predict, images, names)
        except ServerError as e:
            return _error(502, str(e))
        return {
            "model_version": version,
            "predictions": [{"filename": n, **p.as_json()} for n, p in zip(names, predictions, strict=True)],
        }

    return app
