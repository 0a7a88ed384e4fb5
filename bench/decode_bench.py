"""Decode time and peak memory of big phone JPEGs: full decode vs the graph's DCT-ratio decode.

Each (photo, mode) runs in a fresh child process (`python -m bench.decode_bench FILE MODE`),
so one measurement's memory cannot hide another's:
  full   tf.io.decode_image + resize to 224 x 224 (the graph before issue 12)
  ratio  preprocessing.images.decode_and_resize (extract_jpeg_shape, decode_jpeg(ratio=r),
         EXIF orientation, resize): what Transform and serving run now
The child warms the function up on a small JPEG, resets the kernel's peak-RSS mark
(/proc/self/clear_refs), then decodes the big photo REPEATS times. Peak memory is the
peak RSS during those decodes minus the RSS before them (MB = 2**20 bytes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from bench.common import REPO, log, sample_images  # noqa: E402

SIZE = 224  # efficientnet_lite0's input
REPEATS = 3
GRAIN = 6  # Gaussian sensor-like noise (8-bit levels): file sizes like a phone's at quality 95
PHOTOS = {"12 MP": (4032, 3024), "48 MP": (8064, 6048), "200 MP": (16384, 12288)}
MODES = ("full", "ratio")


def _rss_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _decoder(mode: str):
    import tensorflow as tf

    from preprocessing.images import decode_and_resize

    if mode == "full":
        return tf.function(
            lambda b: tf.image.resize(
                tf.io.decode_image(b, channels=3, expand_animations=False), [SIZE, SIZE], antialias=True
            )
        )
    return tf.function(lambda b: decode_and_resize(tf.expand_dims(b, 0), SIZE)[0])


def child(path: str, mode: str) -> dict:
    """Runs in the child: seconds per decode (median) and peak MB over the decodes."""
    import tensorflow as tf

    decode = _decoder(mode)
    decode(tf.constant(sample_images()[0][2])).numpy()  # trace and load kernels on a small photo
    data = tf.constant(Path(path).read_bytes())
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM (peak RSS) to the current RSS
    before = _rss_kb("VmRSS")
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        try:
            decode(data).numpy()
        except tf.errors.InvalidArgumentError as e:  # TF's JPEG decoder refuses outputs of 2**29 bytes or more
            return {"error": str(e).strip().splitlines()[0][-120:], "peak_mb": (_rss_kb("VmHWM") - before) / 1024}
        seconds.append(time.perf_counter() - start)
    return {"seconds": sorted(seconds)[len(seconds) // 2], "peak_mb": (_rss_kb("VmHWM") - before) / 1024}


def make_photo(width: int, height: int, path: Path) -> int:
    """Writes a phone-sized JPEG (a sample photo upscaled, with grain); returns its bytes."""
    from bench.photos import big_jpeg, open_photo

    data = big_jpeg(open_photo(sample_images()[0][2]), width, height, quality=95, grain=GRAIN)
    path.write_bytes(data)
    return len(data)


def run(work: Path, photos: dict[str, tuple[int, int]] = PHOTOS) -> dict:
    """{"12 MP": {"width", "height", "file_mb", "full": {seconds, peak_mb}, "ratio": {...}}, ...}"""
    results = {}
    for name, (width, height) in photos.items():
        path = work / f"{width}x{height}.jpg"
        row = {"width": width, "height": height, "file_mb": make_photo(width, height, path) / 2**20}
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, "-m", "bench.decode_bench", str(path), mode],
                cwd=REPO,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            row[mode] = json.loads(out.strip().splitlines()[-1])
            log(f"decode {name} {mode}: {row[mode]}")
        path.unlink()
        results[name] = row
    return results


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], sys.argv[2])))
