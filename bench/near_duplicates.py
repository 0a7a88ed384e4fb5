"""How far a photo's pHash moves when it is resized, re-saved or cropped, and how close distinct photos come.

    ./dev python -m bench.near_duplicates

For each of the bundled sample photos (data/flowers_small/<class>/*.jpg) makes copies
(resized to 50% and 75%, re-saved at JPEG quality 40 and 60, centre-cropped by 5% and
10%), hashes them as `tastebud prepare` does (data.near_duplicates.perceptual_hasher) and
records the Hamming distance of each copy to its original; then the distances of all
distinct pairs of photos within one class. Writes bench/results_near_duplicates.json
(per transform: min, percentiles, max; the lowest distinct-pair distances; the threshold
that groups every resize/recompress copy and no distinct pair) and prints a table.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import SAMPLE, machine_facts
from data import near_duplicates

RESULTS = Path(__file__).with_name("results_near_duplicates.json")
MUST_GROUP = ("resize 50%", "resize 75%", "quality 40", "quality 60")
CROPS = ("crop 5%", "crop 10%")
REPEATS = 3


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _crop(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    dx, dy = round(w * fraction / 2), round(h * fraction / 2)
    return image.crop((dx, dy, w - dx, h - dy))


def copies(data: bytes) -> dict[str, bytes]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    return {
        "resize 50%": _jpeg(image.resize((w // 2, h // 2), Image.Resampling.LANCZOS)),
        "resize 75%": _jpeg(image.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS)),
        "quality 40": _jpeg(image, 40),
        "quality 60": _jpeg(image, 60),
        "crop 5%": _jpeg(_crop(image, 0.05)),
        "crop 10%": _jpeg(_crop(image, 0.10)),
    }


def distribution(values: list[int]) -> dict:
    p = [round(float(v), 1) for v in np.percentile(values, [50, 90, 99])]
    return {"n": len(values), "min": min(values), "p50": p[0], "p90": p[1], "p99": p[2], "max": max(values)}


def main() -> None:
    photos = sorted(SAMPLE.glob("*/*.jpg"))
    phash = near_duplicates.perceptual_hasher()
    phash(photos[0].read_bytes())  # trace the decode once
    distances = {name: [] for name in MUST_GROUP + CROPS}
    encoded = {path: path.read_bytes() for path in photos}
    passes = []
    for _ in range(REPEATS):  # the best pass: the machine may be shared
        start = time.perf_counter()
        originals = {path: phash(data) for path, data in encoded.items()}
        passes.append((time.perf_counter() - start) * 1000 / len(photos))
    ms_per_photo = min(passes)
    for path in photos:
        for name, data in copies(path.read_bytes()).items():
            distances[name].append(near_duplicates.hamming(phash(data), originals[path]))
    distinct = sorted(
        near_duplicates.hamming(originals[a], originals[b])
        for a, b in itertools.combinations(photos, 2)
        if a.parent == b.parent
    )
    must = max(max(distances[name]) for name in MUST_GROUP)
    threshold = near_duplicates.THRESHOLD
    crops_grouped = {name: sum(d <= threshold for d in distances[name]) / len(photos) for name in CROPS}
    results = {
        "what": "pHash (64 bit) Hamming distance of each copy to its original, and between distinct photos of a class",
        "photos": len(photos),
        "machine": machine_facts(),
        "hash_ms_per_photo": round(ms_per_photo, 2),  # decode upright at >= 64 px + pHash, bytes in memory
        "hash_ms_per_photo_passes": [round(p, 2) for p in passes],
        "hours_for_1M_photos_on_one_core": round(ms_per_photo * 1e6 / 3.6e6, 2),
        "copies": {name: distribution(values) for name, values in distances.items()},
        "distinct_pairs_same_class": {"n": len(distinct), "lowest": distinct[:10], **distribution(distinct)},
        "max_resize_recompress": must,
        "min_distinct": distinct[0],
        "threshold": threshold,
        "threshold_separates": must <= threshold < distinct[0],
        "share_of_crops_grouped_at_threshold": crops_grouped,
        "crops_note": "a centre crop moves pHash far more than resizing or re-saving: crops grouped at the threshold "
        "are the shares above; a threshold catching all 10% crops would also group distinct photos",
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'copy':<12} {'min':>4} {'p50':>5} {'p90':>5} {'p99':>5} {'max':>4}")
    for name, d in results["copies"].items():
        print(f"{name:<12} {d['min']:>4} {d['p50']:>5.1f} {d['p90']:>5.1f} {d['p99']:>5.1f} {d['max']:>4}")
    d = results["distinct_pairs_same_class"]
    print(f"{'distinct':<12} {d['min']:>4} {d['p50']:>5.1f} {d['p90']:>5.1f} {d['p99']:>5.1f} {d['max']:>4}")
    print(f"lowest distinct: {distinct[:10]}; threshold {threshold}: separates = {results['threshold_separates']}")
    print(f"crops grouped: {crops_grouped}; hash {ms_per_photo:.2f} ms/photo; wrote {RESULTS}")


if __name__ == "__main__":
    main()
