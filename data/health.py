"""Data health: which labelled photos look mislabelled, off-topic, duplicated or unusable.

Pure functions on NumPy arrays and photo bytes (no TFX); pipeline/data_health.py runs them
on the pipeline's artefacts. Each check returns report rows (dicts with COLUMNS):

* label: cleanlab's find_label_issues on the out-of-fold probabilities (each photo scored
  by a head that never saw it), ranked by self-confidence; score = 1 - P(given label).
* outlier: cleanlab's OutOfDistribution on the embeddings (square-rooted, see hellinger():
  mean cosine distance to the k nearest neighbours, via sklearn's NearestNeighbors);
  flagged when that distance is far above the set's own median (a robust z-score above
  OUTLIER_Z); score = 1 - OOD score. A photo that is blank, dark or blurry is reported
  as that rather than as an outlier too.
* near_duplicate: pairs of photos whose square-rooted, L2-normalised embeddings have cosine
  similarity >= DUPLICATE_COSINE among each photo's DUPLICATE_NEIGHBOURS nearest (sklearn's
  NearestNeighbors, never an n x n matrix); score = cosine.
  Pairs `tastebud prepare` found by perceptual hash (near_duplicates.csv) join them,
  score = 1 - Hamming distance / 64.
* dark / blank / blurry: from a grey thumbnail of the photo: the mean (very dark, black
  frames included), the standard deviation (near-blank: one flat colour) and the variance
  of the Laplacian (very blurry), each against a threshold; score = how far below it, in
  0..1. On the flower sample the lowest are a mean of 22, a deviation of 20 and a
  Laplacian variance of 59 (grey levels), well above DARK_MEAN, BLANK_STD, BLURRY_LAPLACIAN.

Higher scores are more suspect; rows sort by issue, then score descending. The
thresholds were set on the bundled flower sample plus planted faults
(tests/e2e/test_data_health.py prints what it measures).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable

import numpy as np

from preprocessing import contract

COLUMNS = ("uri", "label", "issue", "suggested_label", "score", "other_uri")
ISSUES = ("label", "near_duplicate", "outlier", "blank", "dark", "blurry")
CSV_FILE, JSON_FILE = contract.DATA_HEALTH_CSV, contract.DATA_HEALTH_JSON
PREPARE_DUPLICATES_FILE = contract.NEAR_DUPLICATES_FILE  # written by `tastebud prepare` (pHash pairs)
HASH_BITS = 64

# Set on tests/e2e/test_data_health.py's 600 Lite0 photos (the sample and two crops of each), measured
# on hellinger() features: the highest robust z of a clean photo is 3.2, the planted noise image
# and drawing 4.6 and 5.4; the closest clean pair (two overlapping crops of one photo) has cosine
# 0.938, copies resized to 90% and recompressed (quality 85) 0.958 and above (quality 75 alone: 0.946).
OUTLIER_K = 10  # neighbours for the OOD score (cleanlab's default)
OUTLIER_Z = 4.0  # robust z-score of the mean k-NN cosine distance above which a photo is an outlier
DUPLICATE_NEIGHBOURS = 5
DUPLICATE_COSINE = 0.95
THUMBNAIL = 256  # pixels, long side, for the blank/dark/blurry statistics
BLANK_STD = 4.0  # grey levels (0..255)
DARK_MEAN = 16.0
BLURRY_LAPLACIAN = 15.0


def row(uri: str, label: str, issue: str, score: float, suggested_label: str = "", other_uri: str = "") -> dict:
    return {
        "uri": uri,
        "label": label,
        "issue": issue,
        "suggested_label": suggested_label,
        "score": round(float(score), 4),
        "other_uri": other_uri,
    }


def label_issues(keys: list[str], labels: np.ndarray, pred_probs: np.ndarray, names: list[str]) -> list[dict]:
    """Photos whose out-of-fold probabilities disagree with their label (labels: indices into names)."""
    from cleanlab.filter import find_label_issues

    if len(keys) < 2 or len(np.unique(labels)) < 2:
        return []
    suspects = find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    return [
        row(keys[i], names[labels[i]], "label", 1.0 - pred_probs[i, labels[i]], names[int(pred_probs[i].argmax())])
        for i in suspects
    ]


def hellinger(embeddings: np.ndarray) -> np.ndarray:
    """Each embedding as the unit vector sqrt(x / sum(x)) (negative features clipped to 0; the
    backbones' pooled ReLU features are non-negative). The cosine of two such vectors is the
    Bhattacharyya coefficient of the embeddings read as distributions. Measured on the
    flower sample (tests/e2e/test_data_health.py), it separates resized copies and off-topic
    photos from the rest better than the cosine of the raw or mean-centred embeddings: a
    few large features dominate the raw cosine and squeeze it into 0.7..0.95."""
    x = np.sqrt(np.maximum(embeddings.astype(np.float64), 0.0))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def outlier_scores(embeddings: np.ndarray, k: int = OUTLIER_K) -> np.ndarray:
    """cleanlab's OOD score of each photo in (0, 1]: exp(-mean cosine distance to its k nearest)."""
    from cleanlab.outlier import OutOfDistribution

    ood = OutOfDistribution({"k": min(k, len(embeddings) - 1)})
    return ood.fit_score(features=hellinger(embeddings).astype(np.float32), verbose=False)


def robust_z(values: np.ndarray) -> np.ndarray:
    """(value - median) / (1.4826 * median absolute deviation): a z-score the outliers do not inflate."""
    median = np.median(values)
    spread = 1.4826 * np.median(np.abs(values - median))
    return (values - median) / max(spread, 1e-12)


def outliers(keys: list[str], labels: list[str], embeddings: np.ndarray, z: float = OUTLIER_Z) -> list[dict]:
    """Photos far from every other photo: mean k-NN distance with a robust z-score above z."""
    if len(keys) <= OUTLIER_K:
        return []
    scores = outlier_scores(embeddings)
    far = robust_z(-np.log(np.maximum(scores, 1e-12))) > z
    return [row(keys[i], labels[i], "outlier", 1.0 - scores[i]) for i in np.flatnonzero(far)]


def embedding_duplicates(
    keys: list[str],
    labels: list[str],
    embeddings: np.ndarray,
    threshold: float = DUPLICATE_COSINE,
    neighbours: int = DUPLICATE_NEIGHBOURS,
) -> list[dict]:
    """Pairs with cosine similarity >= threshold among each photo's nearest neighbours (one row per pair)."""
    from sklearn.neighbors import NearestNeighbors

    if len(keys) < 2:
        return []
    unit = hellinger(embeddings)
    knn = NearestNeighbors(n_neighbors=min(neighbours + 1, len(keys))).fit(unit)
    distances, indices = knn.kneighbors(unit)
    pairs: dict[tuple[int, int], float] = {}
    for i, (ds, js) in enumerate(zip(distances, indices, strict=True)):
        for d, j in zip(ds, js, strict=True):
            cosine = 1.0 - d * d / 2.0  # unit vectors: |a - b|^2 = 2 - 2 cos
            if j != i and cosine >= threshold:
                pairs[(min(i, j), max(i, j))] = cosine
    return [
        row(keys[i], labels[i], "near_duplicate", min(c, 1.0), other_uri=keys[j]) for (i, j), c in sorted(pairs.items())
    ]


def image_statistics(data: bytes) -> tuple[float, float, float]:
    """(mean, standard deviation, variance of the Laplacian) of a grey thumbnail, in grey levels."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im.draft("L", (THUMBNAIL, THUMBNAIL))  # JPEG: decode at a reduced scale
        grey = ImageOps.exif_transpose(im).convert("L")
        grey.thumbnail((THUMBNAIL, THUMBNAIL))
        pixels = np.asarray(grey, np.float32)
    if min(pixels.shape) < 3:
        return float(pixels.mean()), float(pixels.std()), 0.0
    laplacian = pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:] - 4 * pixels[1:-1, 1:-1]
    return float(pixels.mean()), float(pixels.std()), float(laplacian.var())


def image_issues(uri: str, label: str, data: bytes) -> list[dict]:
    """At most one of dark (a black frame too), blank (flat), blurry for one photo, the first that applies."""
    mean, std, sharpness = image_statistics(data)
    if mean < DARK_MEAN:
        return [row(uri, label, "dark", 1.0 - mean / DARK_MEAN)]
    if std < BLANK_STD:
        return [row(uri, label, "blank", 1.0 - std / BLANK_STD)]
    if sharpness < BLURRY_LAPLACIAN:
        return [row(uri, label, "blurry", 1.0 - sharpness / BLURRY_LAPLACIAN)]
    return []


def prepare_duplicates(text: str) -> list[dict]:
    """Rows from prepare's near_duplicates.csv (uri,label,group,kept_with,distance)."""
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        distance = float(r.get("distance") or 0)
        rows.append(
            row(r["uri"], r.get("label", ""), "near_duplicate", 1.0 - distance / HASH_BITS, other_uri=r["kept_with"])
        )
    return rows


def check(
    keys: list[str],
    labels: np.ndarray,
    names: list[str],
    pred_probs: np.ndarray,
    embeddings: np.ndarray,
    other_rows: Iterable[dict] = (),
) -> list[dict]:
    """Every check's rows, sorted: label issues from the out-of-fold probabilities, outliers and
    near-duplicates from the embeddings (rows aligned with keys), plus other_rows (the per-photo
    image_issues, prepare's pairs)."""
    given, other_rows = [names[i] for i in labels], list(other_rows)
    unusable = {r["uri"] for r in other_rows if r["issue"] in ("blank", "dark", "blurry")}
    far = [r for r in outliers(keys, given, embeddings) if r["uri"] not in unusable]
    # A black or blank frame is no example of any class: no suggested label for it.
    mislabelled = [r for r in label_issues(keys, labels, pred_probs, names) if r["uri"] not in unusable]
    pairs = embedding_duplicates(keys, given, embeddings)
    twins = conflicting_labels(pairs + other_rows, dict(zip(keys, given, strict=True)), {r["uri"] for r in mislabelled})
    return sort_rows(mislabelled + twins + far + pairs + other_rows)


def conflicting_labels(rows: list[dict], label_of: dict[str, str], already: set[str]) -> list[dict]:
    """A near-duplicate pair filed under two labels cannot be right twice: a `label` row for its
    first photo, suggesting its twin's label, scored by the pair's similarity (unless listed already)."""
    found = []
    for r in (r for r in rows if r["issue"] == "near_duplicate"):
        mine, theirs = label_of.get(r["uri"], r["label"]), label_of.get(r["other_uri"], "")
        if theirs and theirs != mine and r["uri"] not in already:
            found.append(row(r["uri"], mine, "label", r["score"], theirs, other_uri=r["other_uri"]))
            already = already | {r["uri"]}
    return found


def sort_rows(rows: Iterable[dict]) -> list[dict]:
    """By issue (ISSUES order), then score descending, then uri; a pair found twice is kept once."""
    seen, unique = set(), []
    for r in rows:
        pair = (r["issue"], *sorted((r["uri"], r["other_uri"])))
        if pair not in seen:
            seen.add(pair)
            unique.append(r)
    order = {issue: i for i, issue in enumerate(ISSUES)}
    return sorted(unique, key=lambda r: (order.get(r["issue"], len(order)), r["issue"], -r["score"], r["uri"]))


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def counts(rows: list[dict]) -> dict[str, int]:
    """Rows per issue (issues with none left out)."""
    found = Counter(r["issue"] for r in rows)
    return {issue: found[issue] for issue in sorted(found, key=lambda i: (ISSUES + (i,)).index(i))}


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary_line(issue_counts: dict[str, int], csv_path: str) -> str:
    """One line for local_runner's report: counts of the issues found only."""
    parts = []
    if issue_counts.get("label"):
        n = issue_counts["label"]
        parts.append(f"{plural(n, 'photo', 'photos')} may be mislabelled")
    if issue_counts.get("near_duplicate"):
        parts.append(plural(issue_counts["near_duplicate"], "near-duplicate pair", "near-duplicate pairs"))
    if issue_counts.get("outlier"):
        parts.append(plural(issue_counts["outlier"], "outlier", "outliers"))
    unusable = sum(issue_counts.get(i, 0) for i in ("blank", "dark", "blurry"))
    if unusable:
        parts.append(f"{unusable} blank/dark/blurry")
    if not parts:
        return "data health: no issues found"
    return f"data health: {', '.join(parts)}: see {csv_path}"
