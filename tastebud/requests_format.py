"""TF Serving's request and response formats for the serving signature.

REST (row format):  {"signature_name": "serving_default",
                     "instances": [{"image_bytes": {"b64": "..."}, "key": "photo.jpg"}]}
          response: {"predictions": [{"key", "label", "score", "scores", "classes"}]}
gRPC: PredictionService.Predict with DT_STRING tensors `image_bytes` and `key`.
"""

from __future__ import annotations

import base64
from pathlib import Path

from preprocessing.contract import IMAGE_INPUT, KEY_INPUT, SERVING_OUTPUTS, SERVING_SIGNATURE


def rest_request(images: list[bytes], keys: list[str]) -> dict:
    return {
        "signature_name": SERVING_SIGNATURE,
        "instances": [
            {IMAGE_INPUT: {"b64": base64.b64encode(image).decode("ascii")}, KEY_INPUT: key}
            for image, key in zip(images, keys, strict=True)
        ],
    }


def read_images(paths: list[str]) -> tuple[list[bytes], list[str]]:
    """Reads image files; the key of each is its path as given."""
    images = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such image file: {path}")
        images.append(p.read_bytes())
    return images, list(paths)


def columns_from_rows(rows: list[dict]) -> dict[str, list]:
    """REST row-format predictions -> the column layout the signature returns."""
    return {name: [row[name] for row in rows] for name in SERVING_OUTPUTS}


def batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
