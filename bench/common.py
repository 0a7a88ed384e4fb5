"""Shared helpers: machine facts, timing, generated images, peak memory of a child process."""

from __future__ import annotations

import io
import os
import platform
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "flowers_small"


def machine_facts() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    import tensorflow as tf

    return {
        "commit": current_commit(),
        "cores": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def current_commit() -> str:
    """The checkout's commit, read from .git directly (git is not inside the environment's root)."""
    git = REPO / ".git"
    try:
        if git.is_file():  # a worktree: .git names its own dir, whose "commondir" holds the refs
            git = (REPO / git.read_text().split("gitdir:", 1)[1].strip()).resolve()
        common = (git / (git / "commondir").read_text().strip()).resolve() if (git / "commondir").exists() else git
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        if (common / ref).exists():
            return (common / ref).read_text().strip()[:12]
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except OSError:
        pass
    return "?"


def sample_images() -> list[tuple[str, str, bytes]]:
    """(key, label, bytes) for the 200 bundled photos."""
    return [(str(p), p.parent.name, p.read_bytes()) for p in sorted(SAMPLE.glob("*/*.jpg"))]


def crop_and_flip(data: bytes, rng: random.Random):
    """The JPEG `data` as an RGB Pillow image, randomly cropped to 75-100% of each side and
    mirrored half of the time."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
    w, h = im.size
    scale = rng.uniform(0.75, 1.0)
    cw, ch = int(w * scale), int(h * scale)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = im.crop((x, y, x + cw, y + ch))
    return ImageOps.mirror(im) if rng.random() < 0.5 else im


def variants(count: int, seed: int = 0) -> list[tuple[str, str, bytes]]:
    """`count` distinct JPEGs made from the sample by random crops and flips, re-encoded."""
    base = sample_images()
    rng = random.Random(seed)
    out = []
    for i in range(count):
        key, label, data = base[i % len(base)]
        buffer = io.BytesIO()
        crop_and_flip(data, rng).save(buffer, format="JPEG", quality=90)
        out.append((f"{key}#v{i}", label, buffer.getvalue()))
    return out


def write_examples(rows: list[tuple[str, str, bytes]], path: Path) -> Path:
    """Writes rows as the gzipped tf.Example TFRecord `tastebud prepare` produces."""
    import tensorflow as tf

    from data.prepare import make_example

    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for key, label, data in rows:
            writer.write(make_example(key, label, data))
    return path


def run_with_peak_rss(command: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Runs a command; returns (seconds, peak RSS in bytes over it and its children, stdout)."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    peak = 0
    stop = threading.Event()

    def poll():
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                total = parent.memory_info().rss + sum(c.memory_info().rss for c in parent.children(recursive=True))
                peak = max(peak, total)
            except psutil.Error:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed with {proc.returncode}")
    return time.perf_counter() - start, peak, out


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
