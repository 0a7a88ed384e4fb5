"""Renders a Review as one self-contained HTML file: PNGs inlined as data URIs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipeline.evaluation import INTERVAL_CONFIDENCE, count_text, rate_text
from tastebud.review import Review
from tastebud.review_health import TOP, gallery
from tastebud.thumbnails import thumbnail

TEMPLATES = Path(__file__).parent / "templates"
THUMBNAIL = 160


def _png_data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def confusion_heatmap(confusion: np.ndarray, labels: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.9 * len(labels) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(confusion, cmap="Greens")
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true label")
    threshold = confusion.max() / 2 if confusion.size else 0
    for (i, j), count in np.ndenumerate(confusion):
        ax.text(j, i, str(count), ha="center", va="center", color="white" if count > threshold else "black")
    ax.set_title("confusion matrix (eval split)")
    uri = _png_data_uri(fig)
    plt.close(fig)
    return uri


def render(review: Review) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("review.html.j2").render(
        review=review,
        evaluation=review.evaluation,
        heatmap=confusion_heatmap(review.evaluation.confusion, review.evaluation.labels),
        mistakes=[(m, thumbnail(m.image, THUMBNAIL)) for m in review.mistakes],
        health=review.health,
        health_gallery=gallery(review.health) if review.health else [],
        health_top=TOP,
        count_text=count_text,
        rate_text=rate_text,
        confidence=INTERVAL_CONFIDENCE,
    )


def write_report(review: Review, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(review), encoding="utf-8")
    return path
