"""(1) the limit: the backbone alone on pre-decoded, pre-resized batches;
(2) decode + resize + embed in a tf.data pipeline."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Sequence

import tensorflow as tf

from bench.common import log
from preprocessing.backbones import RANDOM_WEIGHTS, get_backbone
from preprocessing.images import decode_and_resize
from preprocessing.settings import TRANSFORM_CHUNK_SIZE

BATCH_SIZES = (8, 16, 32, 64)
DECODE_EMBED = "decode+embed"  # Transform's decode and backbone on photos (not part of the limit)


def extractor(name: str):
    # Inception-v3's ImageNet weights cannot be had offline; speed does not depend on them.
    return get_backbone(name).build_feature_extractor(RANDOM_WEIGHTS if name == "inception_v3" else None)


def backbone_limit(name: str, seconds_per_size: float = 2.0, rounds: int = 3, encoded: Sequence[bytes] = ()) -> dict:
    """Images/s on ready pixels for each batch size, of the Keras model and of the traced,
    frozen backbone the pipeline runs (preprocessing/traced_backbone.py); the best of all
    is the limit, so a faster traced backbone raises the bar instead of flattering ratios.

    Each (model, batch) is timed `rounds` times, round-robin, and its median kept: this
    machine's speed drifts by tens of percent within minutes, and timing one batch size
    after another mixed that drift into the comparison.

    With `encoded` photos, the same rounds also time "decode+embed": Transform's own
    decode, resize and traced backbone (preprocessing/images.py: embed_in_chunks) on them,
    in this process, without Beam. It is not part of the limit: it is the work Transform
    does per photo, so it shows how much of the gap to the limit is decoding and how much
    is Beam and TFT."""
    from preprocessing import traced_backbone
    from preprocessing.preprocessing import embedder  # Transform's own, with TFT: imported when timed

    model = extractor(name)
    size = get_backbone(name).input_size
    keras_call = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, size, size, 3])])
    weights = RANDOM_WEIGHTS if name == "inception_v3" else None
    traced = traced_backbone.load(name, weights)
    calls = {"keras": keras_call, "traced": traced.embed}
    timings = {
        f"{kind} {batch}": _on_pixels(call, batch, size) for batch in BATCH_SIZES for kind, call in calls.items()
    }
    if encoded:
        timings[DECODE_EMBED] = _on_photos(embedder(traced, name, weights, TRANSFORM_CHUNK_SIZE), encoded)
    samples = {key: [] for key in timings}
    for _ in range(rounds):
        for key, step in timings.items():
            samples[key].append(_rate(step, seconds_per_size))
    medians = {key: statistics.median(rates) for key, rates in samples.items()}
    for key, rates in samples.items():
        log(f"limit {name} {key}: {medians[key]:.1f} images/s (rounds: {', '.join(f'{r:.1f}' for r in rates)})")
    per_size = {key: rate for key, rate in medians.items() if key != DECODE_EMBED}
    best = max(per_size, key=per_size.get)
    result = {"images_per_s": per_size[best], "best_batch": best, "by_batch": per_size, "rounds": samples}
    if encoded:
        result["decode_embed_images_per_s"] = medians[DECODE_EMBED]
    return result


def _on_pixels(call, batch: int, size: int):
    """A timing step: the backbone on one batch of ready pixels; returns the images done."""
    pixels = tf.random.uniform((batch, size, size, 3), 0, 255, seed=batch)

    def step() -> int:
        call(pixels).numpy()
        return batch

    return step


def _on_photos(embed, encoded: Sequence[bytes]):
    """A timing step: Transform's decode + embed on the next TRANSFORM_CHUNK_SIZE photos, in turn."""
    chunk = TRANSFORM_CHUNK_SIZE
    turn = itertools.cycle([tf.constant(encoded[i : i + chunk]) for i in range(0, len(encoded), chunk)])

    def step() -> int:
        return int(embed(next(turn)).shape[0])

    return step


def _rate(step, seconds: float) -> float:
    step()  # trace + warm up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    return done / (time.perf_counter() - start)


def decode_resize_embed(name: str, images: list[bytes], batch: int = 32) -> dict:
    model = extractor(name)
    size = get_backbone(name).input_size
    dataset = (
        tf.data.Dataset.from_tensor_slices(images)
        .batch(batch)
        .map(lambda b: decode_and_resize(b, size), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )
    # One trace for every batch length (the last batch is shorter): no retracing in the timing.
    call = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, size, size, 3])])
    for pixels in dataset.take(1):
        call(pixels)  # warm up
    start = time.perf_counter()
    count = 0
    for pixels in dataset:
        count += int(call(pixels).shape[0])
    rate = count / (time.perf_counter() - start)
    log(f"decode+resize+embed {name}: {rate:.1f} images/s")
    return {"images_per_s": rate, "images": count}
