"""`tastebud prepare`: labelled photos -> validated tf.Example TFRecords, split 90/10.

A Beam pipeline (DirectRunner locally, the same code on Dataflow):

    list inputs -> read + check each image -> group by content hash (dedupe)
      -> split per class by content hash -> write sorted, sharded, gzipped TFRecords
      -> write dict.txt, rejected.csv and summary.json

Every input ends up either written or in rejected.csv with a reason, and the summary
says input = written + rejected. Identical content is merged before the split, which
ranks each class's images by a hash of (seed, content): the same photo under two
names is one example and can never sit in both splits, and each class gets its share
of eval. Output is deterministic: shards are chosen by content hash, sorted within.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from data import sources
from data.validate import DEFAULT_MAX_PIXELS, check_image
from preprocessing.features import IMAGE_KEY, KEY_KEY, LABEL_KEY

TRAIN, EVAL = "train", "eval"
EXAMPLES_PER_SHARD = 5000
MIN_IMAGES_PER_CLASS = 10
DICT_FILE, REJECTED_FILE, SUMMARY_FILE = "dict.txt", "rejected.csv", "summary.json"


@dataclass(frozen=True)
class PrepareConfig:
    source: str
    out: str
    eval_fraction: float = 0.1
    seed: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    labels: tuple[str, ...] | None = None  # a given dict.txt: other labels are rejected
    beam_args: list[str] = field(default_factory=list)


def split_rank(content_sha: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{content_sha}".encode()).hexdigest()


def assign_splits(element, seed: int, eval_fraction: float):
    """Per class: order images by hash(seed, content); the first round(n * fraction) go to eval.

    Stratified, so every class is represented in eval in proportion, and a pure function
    of the class's contents and the seed, so reruns give the same split.
    """
    _label, shas = element
    ordered = sorted(set(shas), key=lambda sha: split_rank(sha, seed))
    n_eval = int(len(ordered) * eval_fraction + 0.5)
    for position, sha in enumerate(ordered):
        yield sha, EVAL if position < n_eval else TRAIN


class _Progress:
    """Prints 'checked N of TOTAL' lines at most every few seconds (per worker process)."""

    _shared: dict[int, _Progress] = {}
    _shared_lock = threading.Lock()

    def __init__(self, total: int):
        self.total, self.done, self.last = total, 0, 0.0
        self.lock = threading.Lock()

    @classmethod
    def for_total(cls, total: int) -> _Progress:
        """One counter per process, shared by the DoFn instances of its threads."""
        with cls._shared_lock:
            return cls._shared.setdefault(total, cls(total))

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            now = time.monotonic()
            if now - self.last >= 2.0 or self.done == self.total:
                self.last = now
                print(f"[prepare] checked {self.done} of {self.total} files", file=sys.stderr, flush=True)


class ReadAndCheck(beam.DoFn):
    """Reads one file and checks it decodes; emits (content_sha, record) or a rejection."""

    REJECTED = "rejected"

    def __init__(self, total: int, max_pixels: int, allowed_labels: tuple[str, ...] | None):
        self.total, self.max_pixels, self.allowed = total, max_pixels, allowed_labels

    def setup(self):
        self.progress = _Progress.for_total(self.total)

    def process(self, item: sources.LabelledImage):
        try:
            yield from self._check(item)
        finally:
            self.progress.tick()

    def _check(self, item: sources.LabelledImage):
        label = sources.normalise_label(item.label)
        if not label:
            yield beam.pvalue.TaggedOutput(self.REJECTED, (item.uri, f"empty label ({item.origin})"))
            return
        if self.allowed is not None and label not in self.allowed:
            yield beam.pvalue.TaggedOutput(self.REJECTED, (item.uri, f"label {label!r} is not in the given dict.txt"))
            return
        try:
            with FileSystems.open(item.uri, compression_type="uncompressed") as f:
                data = f.read()
        except Exception as e:  # missing, permission denied, a folder, network error...
            reason = "file not found" if "not found" in str(e).lower() or isinstance(e, FileNotFoundError) else None
            yield beam.pvalue.TaggedOutput(self.REJECTED, (item.uri, reason or f"unreadable: {type(e).__name__}: {e}"))
            return
        check = check_image(data, self.max_pixels)
        if not check.ok:
            yield beam.pvalue.TaggedOutput(self.REJECTED, (item.uri, check.reason))
            return
        yield hashlib.sha256(data).hexdigest(), (item.uri, label, data)


def resolve_duplicates(element):
    """One example per distinct content; extra copies are rejected, naming the kept one."""
    sha, copies = element
    copies = sorted(copies, key=lambda c: c[0])
    labels = sorted({label for _, label, _ in copies})
    if len(labels) > 1:
        for uri, _, _ in copies:
            yield beam.pvalue.TaggedOutput(
                ReadAndCheck.REJECTED, (uri, f"the same image is listed under conflicting labels {labels}")
            )
        return
    kept_uri, label, data = copies[0]
    for uri, _, _ in copies[1:]:
        reason = "duplicate row" if uri == kept_uri else f"duplicate of {kept_uri}"
        yield beam.pvalue.TaggedOutput(ReadAndCheck.REJECTED, (uri, reason))
    yield sha, kept_uri, label, data


def make_example(uri: str, label: str, data: bytes) -> bytes:
    import tensorflow as tf

    def feature(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    values = {IMAGE_KEY: feature(data), LABEL_KEY: feature(label.encode()), KEY_KEY: feature(uri.encode())}
    return tf.train.Example(features=tf.train.Features(feature=values)).SerializeToString()


class WriteShard(beam.DoFn):
    """Writes one shard, its examples sorted by content hash, as a gzipped TFRecord file."""

    def __init__(self, out: str, num_shards: int):
        self.out, self.num_shards = out, num_shards

    def process(self, element):
        import tensorflow as tf

        (split, shard), records = element
        path = f"{self.out}/{split}/data-{shard:05d}-of-{self.num_shards:05d}.tfrecord.gz"
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for _, serialized in sorted(records):
                writer.write(serialized)
        yield path


def _write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


def write_rejected(rows: list[tuple[str, str]], out: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["uri", "reason"])
    writer.writerows(sorted(rows))
    _write_text(f"{out}/{REJECTED_FILE}", buffer.getvalue())


def build_summary(counts: list[tuple[tuple[str, str], int]], rejected: int, total: int) -> dict:
    per_class: dict[str, dict[str, int]] = defaultdict(lambda: {TRAIN: 0, EVAL: 0})
    for (label, split), n in counts:
        per_class[label][split] = n
    written = {s: sum(c[s] for c in per_class.values()) for s in (TRAIN, EVAL)}
    return {
        "input": total,
        "written": written[TRAIN] + written[EVAL],
        "rejected": rejected,
        "splits": written,
        "classes": {label: per_class[label] for label in sorted(per_class)},
        "warnings": class_warnings(per_class),
    }


def class_warnings(per_class: dict[str, dict[str, int]]) -> list[str]:
    """Classes too small to learn or to evaluate: worth a warning, not a failure."""
    warnings = []
    for label in sorted(per_class):
        counts = per_class[label]
        if counts[TRAIN] + counts[EVAL] < MIN_IMAGES_PER_CLASS:
            warnings.append(
                f"class {label!r} has only {counts[TRAIN] + counts[EVAL]} images "
                f"(fewer than {MIN_IMAGES_PER_CLASS}); its accuracy will be unreliable"
            )
        elif counts[EVAL] == 0:
            warnings.append(f"class {label!r} has no eval images; raise --eval-fraction or add photos")
    return warnings


def write_summary(counts, rejected_count: int, total: int, labels: tuple[str, ...] | None, out: str) -> None:
    summary = build_summary(counts, rejected_count, total)
    dictionary = list(labels) if labels is not None else sorted(summary["classes"])
    summary["labels"] = dictionary
    missing = [label for label in dictionary if label not in summary["classes"]]
    summary["warnings"] += [f"class {label!r} from the given dict.txt has no images" for label in missing]
    _write_text(f"{out}/{DICT_FILE}", "".join(f"{label}\n" for label in dictionary))
    _write_text(f"{out}/{SUMMARY_FILE}", json.dumps(summary, indent=2) + "\n")


def num_shards_for(total: int) -> int:
    return max(1, -(-total // EXAMPLES_PER_SHARD))


def build_pipeline(p: beam.Pipeline, cfg: PrepareConfig, items, bad_rows) -> None:
    """Wires the Beam graph; `items` were listed on the launcher."""
    total = len(items) + len(bad_rows)
    shards = num_shards_for(total)
    checked = (
        p
        | "ListInputs" >> beam.Create(items, reshuffle=True)
        | "ReadAndCheck"
        >> beam.ParDo(ReadAndCheck(total, cfg.max_pixels, cfg.labels)).with_outputs(ReadAndCheck.REJECTED, main="ok")
    )
    unique = (
        checked.ok
        | "GroupByContent" >> beam.GroupByKey()
        | "Dedupe" >> beam.FlatMap(resolve_duplicates).with_outputs(ReadAndCheck.REJECTED, main="kept")
    )
    splits = (
        unique.kept
        | "ShaByLabel" >> beam.Map(lambda r: (r[2], r[0]))
        | "GroupByLabel" >> beam.GroupByKey()
        | "AssignSplits" >> beam.FlatMap(assign_splits, cfg.seed, cfg.eval_fraction)
    )
    keyed = (
        {"record": unique.kept | "BySha" >> beam.Map(lambda r: (r[0], r)), "split": splits}
        | "JoinSplit" >> beam.CoGroupByKey()
        | "Keyed" >> beam.Map(lambda kv: (kv[1]["split"][0], kv[1]["record"][0]))
    )
    _ = (
        keyed
        | "ToShards"
        >> beam.Map(lambda kv: ((kv[0], int(kv[1][0][:8], 16) % shards), (kv[1][0], make_example(*kv[1][1:]))))
        | "GroupShards" >> beam.GroupByKey()
        | "WriteShards" >> beam.ParDo(WriteShard(cfg.out, shards))
    )
    counts = (
        keyed
        | "CountKey" >> beam.Map(lambda kv: ((kv[1][2], kv[0]), 1))
        | "Count" >> beam.CombinePerKey(sum)
        | "AllCounts" >> beam.combiners.ToList()
    )
    bad = p | "BadRows" >> beam.Create([(f"{cfg.source} ({b.origin})", b.reason) for b in bad_rows])
    rejected = (
        (bad, checked[ReadAndCheck.REJECTED], unique[ReadAndCheck.REJECTED])
        | "AllRejected" >> beam.Flatten()
        | "RejectedList" >> beam.combiners.ToList()
    )
    _ = rejected | "WriteRejected" >> beam.Map(write_rejected, cfg.out)
    _ = counts | "WriteSummary" >> beam.Map(
        lambda c, rej: write_summary(c, len(rej), total, cfg.labels, cfg.out), beam.pvalue.AsSingleton(rejected)
    )


def default_beam_args() -> list[str]:
    # In-memory DirectRunner with threads: reading and decoding release the GIL, and
    # it avoids the multi-process runner's start-up cost. Dataflow args replace these.
    return ["--runner=DirectRunner", "--direct_running_mode=multi_threading", "--direct_num_workers=2"]


def _clear_previous_output(out: str) -> None:
    for split in (TRAIN, EVAL):
        old = FileSystems.match([f"{out}/{split}/*"])[0].metadata_list
        if old:
            FileSystems.delete([m.path for m in old])


def run(cfg: PrepareConfig) -> dict:
    """Runs the preparation and returns the summary (also written to DATA_DIR)."""
    items, bad_rows = sources.list_source(cfg.source)
    print(f"[prepare] {len(items) + len(bad_rows)} inputs from {cfg.source}", file=sys.stderr)
    _clear_previous_output(cfg.out)
    for split in (TRAIN, EVAL):
        if not FileSystems.exists(f"{cfg.out}/{split}"):
            FileSystems.mkdirs(f"{cfg.out}/{split}")
    options = PipelineOptions(cfg.beam_args or default_beam_args())
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, cfg, items, bad_rows)
    with FileSystems.open(f"{cfg.out}/{SUMMARY_FILE}") as f:
        return json.loads(f.read())
