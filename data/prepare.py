"""`tastebud prepare`: labelled photos -> validated tf.Example TFRecords, split 90/10.

A Beam pipeline (DirectRunner locally, the same code on Dataflow):
    list inputs (skipping system files, --exclude) -> read + check each image
      -> group by content hash (dedupe) -> group near duplicates (data.near_duplicates)
      -> split per class by content hash, each near-duplicate group whole
      -> write sorted, sharded, gzipped TFRecords (Beam's FileSystems: local or gs://),
         rejected.csv, notes.csv (photos written despite a decoder warning), near_duplicates.csv
then, on the launcher, read the output back and prove input = written + rejected +
skipped (data.accounting), and only then write skipped.csv, dict.txt and summary.json.

Every input ends up written, rejected (rejected.csv, with a reason) or skipped (skipped.csv:
system files, files outside class folders, --exclude). Identical content is merged before the
split, which ranks each class's images by a hash of (seed, content): the same photo under two
names is one example and can never sit in both splits, and each class gets its share of eval.
Output is deterministic: shards are chosen by content hash, sorted within.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import sys
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from data import accounting, exclude, near_duplicates, report, sources
from data.progress import Progress
from data.records import write_records
from data.validate import DEFAULT_MAX_PIXELS, check_image
from preprocessing.contract import IMAGE_KEY, KEY_KEY, LABEL_KEY, LABELS_FILE, NOTES_FILE, PREPARE_FILES, REJECTED_FILE

TRAIN, EVAL = report.TRAIN, report.EVAL
EXAMPLES_PER_SHARD = 5000


@dataclass(frozen=True)
class PrepareConfig:
    source: str
    out: str
    eval_fraction: float = 0.1
    seed: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    labels: tuple[str, ...] | None = None  # a given dict.txt: other labels are rejected
    exclude: tuple[str, ...] = ()  # CSVs with a uri column: those inputs are skipped (data.exclude)
    beam_args: list[str] = field(default_factory=list)


def split_rank(content_sha: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{content_sha}".encode()).hexdigest()


def assign_splits(element, seed: int, eval_fraction: float):
    """Per class: order images by hash(seed, content); the first round(n * fraction) go to eval.

    Stratified, so every class is represented in eval in proportion, and a pure function
    of the class's contents and the seed, so reruns give the same split. A unit is a sha
    or (sha, size): a near-duplicate group (data.near_duplicates) goes whole into one split.
    """
    _label, units = element
    ordered = sorted({(u, 1) if isinstance(u, str) else tuple(u) for u in units}, key=lambda u: split_rank(u[0], seed))
    n_eval, taken = int(sum(size for _, size in ordered) * eval_fraction + 0.5), 0
    for sha, size in ordered:
        yield sha, EVAL if taken < n_eval else TRAIN
        taken += size if taken < n_eval else 0


def read_error_reason(error: Exception) -> str:
    """One readable line for a file that cannot be read (the errno, not a traceback)."""
    for e in (error, error.__cause__, error.__context__):
        if isinstance(e, OSError) and e.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[e.errno]
    if isinstance(error, FileNotFoundError) or "not found" in str(error).lower():
        return "file not found"
    return f"unreadable: {type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}"


_ERRNO_REASONS = {
    errno.ENOENT: "file not found",
    errno.EACCES: "unreadable: permission denied",
    errno.EPERM: "unreadable: permission denied",
    errno.ELOOP: "unreadable: symbolic link loop",
    errno.EISDIR: "unreadable: a folder, not a file",
}


def read_input(uri: str) -> tuple[bytes | None, str]:
    """The file's bytes, or None and the reason it cannot be read."""
    if "://" not in uri and os.path.islink(uri) and not os.path.exists(uri):
        return None, f"broken symbolic link: points to {os.readlink(uri)}, which does not exist"
    try:
        with FileSystems.open(uri, compression_type="uncompressed") as f:
            return f.read(), ""
    except Exception as e:  # missing, permission denied, a folder, network error...
        return None, read_error_reason(e)


def read_and_check(uri: str, max_pixels: int) -> tuple[bytes | None, str, str]:
    """(bytes, "", note) for a usable image, the note being the decoder's warning or "";
    (None, reason, "") for one that is not. Shared with batch `predict`."""
    data, reason = read_input(uri)
    if data is None:
        return None, reason, ""
    check = check_image(data, max_pixels, uri, capture_warnings=True)
    if not check.ok:
        return None, check.reason, ""
    return data, "", f"decoded with a warning: {check.warning}" if check.warning else ""


class ReadAndCheck(beam.DoFn):
    """Reads one file and checks it decodes; emits (content_sha, record) or a rejection,
    and a note for a photo the decoder read with a warning (it is still written)."""

    REJECTED, NOTED = "rejected", "noted"

    def __init__(self, total: int, max_pixels: int, allowed_labels: tuple[str, ...] | None):
        self.total, self.max_pixels, self.allowed = total, max_pixels, allowed_labels

    def setup(self):
        self.progress = Progress.shared("[prepare] checked {done} of {total} files ({rate:.0f}/s)", self.total)

    def process(self, item: sources.LabelledImage):
        try:
            yield from self._check(item)
        finally:
            self.progress.tick()

    def _check(self, item: sources.LabelledImage):
        label = sources.normalise_label(item.label)
        refused = None if label else f"empty label ({item.origin})"
        if label and self.allowed is not None and label not in self.allowed:
            refused = f"label {label!r} is not in the given {LABELS_FILE}"
        if refused:
            yield beam.pvalue.TaggedOutput(self.REJECTED, (item.uri, refused))
            return
        data, reason, note = read_and_check(item.uri, self.max_pixels)
        if data is None:
            yield beam.pvalue.TaggedOutput(self.REJECTED, (item.uri, reason))
            return
        if note:
            yield beam.pvalue.TaggedOutput(self.NOTED, (item.uri, note))
        yield hashlib.sha256(data).hexdigest(), (item.uri, label, data)


def resolve_duplicates(element):
    """One example per distinct content; extra copies are rejected, naming the kept one.

    The kept copy is the one with the shortest URI (then the first by name): deterministic
    whatever order Beam groups them in, and it keeps `IMG_0001.jpg` over `IMG_0001 copy.jpg`."""
    sha, copies = element
    copies = sorted(copies, key=lambda c: (len(c[0]), c[0]))
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
    # deterministic: map fields in key order, whatever the process (protobuf map order is per process)
    return tf.train.Example(features=tf.train.Features(feature=values)).SerializeToString(deterministic=True)


class WriteShard(beam.DoFn):
    """Writes one shard, its examples sorted by content hash, as a gzipped TFRecord file (local or gs://)."""

    def __init__(self, out: str, num_shards: int):
        self.out, self.num_shards = out, num_shards

    def process(self, element):
        (split, shard), records = element
        path = f"{self.out}/{split}/data-{shard:05d}-of-{self.num_shards:05d}.tfrecord.gz"
        write_records(path, (serialized for _, serialized in sorted(records)))
        yield path


def num_shards_for(total: int) -> int:
    return max(1, -(-total // EXAMPLES_PER_SHARD))


def build_pipeline(p: beam.Pipeline, cfg: PrepareConfig, listing: sources.Listing) -> None:
    """Wires the Beam graph; the inputs were listed on the launcher. Writes shards and rejected.csv."""
    shards = num_shards_for(len(listing.items))
    checked = (
        p
        | "ListInputs" >> beam.Create(listing.items, reshuffle=True)
        | "ReadAndCheck"
        >> beam.ParDo(ReadAndCheck(len(listing.items), cfg.max_pixels, cfg.labels)).with_outputs(
            ReadAndCheck.REJECTED, ReadAndCheck.NOTED, main="ok"
        )
    )
    unique = (
        checked.ok
        | "GroupByContent" >> beam.GroupByKey()
        | "Dedupe" >> beam.FlatMap(resolve_duplicates).with_outputs(ReadAndCheck.REJECTED, main="kept")
    )
    groups = beam.pvalue.AsSingleton(unique.kept | "NearDuplicates" >> near_duplicates.FindGroups(cfg.out))
    splits = (
        unique.kept
        | "UnitByLabel" >> beam.FlatMap(near_duplicates.split_unit, groups)
        | "GroupByLabel" >> beam.GroupByKey()
        | "AssignSplits" >> beam.FlatMap(assign_splits, cfg.seed, cfg.eval_fraction)
    )
    _ = (
        {"record": unique.kept | "ByUnit" >> beam.Map(near_duplicates.unit_sha, groups), "split": splits}
        | "JoinSplit" >> beam.CoGroupByKey()
        | "Keyed" >> beam.FlatMap(lambda kv: ((kv[1]["split"][0], r) for r in kv[1]["record"]))
        | "ToShards"
        >> beam.Map(lambda kv: ((kv[0], int(kv[1][0][:8], 16) % shards), (kv[1][0], make_example(*kv[1][1:]))))
        | "GroupShards" >> beam.GroupByKey()
        | "WriteShards" >> beam.ParDo(WriteShard(cfg.out, shards))
    )
    bad_rows = [(accounting.bad_row_key(cfg.source, b), b.reason) for b in listing.bad_rows]
    _ = (
        (p | "BadRows" >> beam.Create(bad_rows), checked[ReadAndCheck.REJECTED], unique[ReadAndCheck.REJECTED])
        | "AllRejected" >> beam.Flatten()
        | "WriteRejected" >> report.WriteRows(f"{cfg.out}/{REJECTED_FILE}")
    )
    _ = checked[ReadAndCheck.NOTED] | "WriteNotes" >> report.WriteRows(f"{cfg.out}/{NOTES_FILE}", report.NOTES)


def default_beam_args() -> list[str]:
    # In-memory DirectRunner: one process, no start-up cost, TF's decoder uses its own
    # threads. Never multi_threading: Beam 2.77 loses elements there (see check_runner).
    return ["--runner=DirectRunner", "--direct_running_mode=in_memory"]


def check_runner(options: PipelineOptions) -> None:
    """Refuses runner settings known to lose data, before any work.

    Beam's DirectRunner in `multi_threading` mode (its in-process gRPC workers) drops
    elements at a GroupByKey when a stage is slow and its elements large: proven with a
    pure-Beam pipeline (no tastebud code): scripts/beam_multithreading_loss.py. in_memory
    and multi_processing do not.
    """
    direct = options.view_as(DirectOptions)
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    if "Direct" in runner and direct.direct_running_mode == "multi_threading":
        raise ValueError(
            "--direct_running_mode=multi_threading is refused: Beam's DirectRunner loses elements in that "
            "mode. Use in_memory (the default) or multi_processing with --direct_num_workers=N."
        )


def _clear_previous_output(out: str) -> None:
    old = [m.path for split in (TRAIN, EVAL) for m in FileSystems.match([f"{out}/{split}/*"])[0].metadata_list]
    old += [f"{out}/{name}" for name in PREPARE_FILES if FileSystems.exists(f"{out}/{name}")]
    if old:
        FileSystems.delete(old)


def run(cfg: PrepareConfig) -> dict:
    """Runs the preparation, proves every input is accounted for, returns the summary.

    Raises:
      FileNotFoundError / ValueError: a missing source, a single class, or refused runner settings.
      accounting.AccountingError: the output does not hold exactly the listed inputs;
        dict.txt and summary.json are then not written, so nothing can train on it.
    """
    listing = exclude.apply(sources.list_source(cfg.source), cfg.exclude)
    report.refuse_single_class(listing, cfg.source, exclude.excluded_count(listing))
    options = PipelineOptions(cfg.beam_args or default_beam_args())
    check_runner(options)
    print(f"[prepare] {listing.total} inputs from {cfg.source}", file=sys.stderr)
    for note in listing.notes:
        print(f"[prepare] note: {note}", file=sys.stderr)
    _clear_previous_output(cfg.out)
    for split in (TRAIN, EVAL):
        if not FileSystems.exists(f"{cfg.out}/{split}"):
            FileSystems.mkdirs(f"{cfg.out}/{split}")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, cfg, listing)
    written = accounting.read_written(cfg.out)
    rejected = accounting.read_rejected(f"{cfg.out}/{REJECTED_FILE}")
    accounting.check(listing, cfg.source, written, rejected)
    labels = list(cfg.labels) if cfg.labels is not None else sorted({w.label for w in written})
    noted = accounting.read_rejected(f"{cfg.out}/{NOTES_FILE}")
    summary = report.build_summary(listing, written, rejected, labels, noted) | near_duplicates.read_counts(cfg.out)
    assert summary["input"] == summary["written"] + summary["rejected"] + summary["skipped"], summary
    report.write_outputs(cfg.out, summary, listing.skipped)
    return summary
