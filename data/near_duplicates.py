"""Near-duplicate photos (resized, re-saved at a lower JPEG quality): found, grouped, kept in one split.

Each distinct photo gets a 64-bit perceptual hash (imagehash's pHash) of the image as a
viewer shows it: decoded upright by the pipeline's own TensorFlow ops
(preprocessing.images.decode_upright: EXIF orientation applied, big JPEGs decoded at
1/2..1/8 scale in the DCT), so memory per photo stays small. Two photos are near
duplicates when their hashes differ in at most THRESHOLD bits.

Grouping never compares all pairs. LSH banding, by the pigeonhole principle: the 64 bits
are cut into BANDS = THRESHOLD + 1 bands, and two hashes within THRESHOLD bits of each
other agree exactly on at least one band. Photos are keyed by (band index, band value)
and compared only inside a bucket, each candidate confirmed by its real Hamming distance.
A bucket above BUCKET_CAP members (hundreds of plain white frames, say) is not compared
pairwise: each member is compared with the bucket's first member (by URI) only, and the
bucket is logged, so the cost stays linear. The confirmed edges are few; one worker joins
them with union-find into groups (connected components). A group's representative is its
largest file (most bytes: the original, usually, rather than a smaller or more compressed
copy; ties: the shortest URI, then the first by name), so that listing the other members
(near_duplicates.csv) for `prepare --exclude` keeps the best copy.
Groups ignore labels: a copy filed under another class still follows its representative's
split (near_duplicates.csv shows each member's own label). Nothing is dropped here.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
from collections.abc import Iterable

import apache_beam as beam

from data import report
from preprocessing import contract

# Measured by bench/near_duplicates.py on the 200 bundled photos (bench/results_near_duplicates.json):
# every 50%/75% resize and quality 40/60 re-save lies within 6 bits of its original (p99 4),
# while the closest two distinct photos of one class are 14 bits apart (p50 32). 8 sits between,
# 2 bits above the farthest copy, 6 below the closest distinct pair. Centre crops: 89% of 5% crops
# (max 10 bits) and 27% of 10% crops (max 24) group; all 10% crops cannot without false pairs.
THRESHOLD = 8
BANDS = THRESHOLD + 1  # pigeonhole: <= THRESHOLD differing bits leave >= 1 band identical
HASH_BITS = 64
BUCKET_CAP = 1000  # a bigger bucket is compared with its first member only (linear), and logged
HASH_SIZE = 32  # decode to a short side >= 2 x 32 pixels: pHash reads a 32 x 32 thumbnail
FILE, HEADER = contract.NEAR_DUPLICATES_FILE, ("uri", "label", "group", "kept_with", "distance")


def perceptual_hasher():
    """A function encoded bytes -> 64-bit pHash (int) of the upright image (None if it cannot be
    decoded); one per process or DoFn. Single-threaded callers (it takes fd 2 for each decode)."""
    import imagehash
    import tensorflow as tf
    from PIL import Image

    from preprocessing.images import decode_upright
    from tastebud.quiet import native_stderr_quiet

    decode = tf.function(
        lambda encoded: decode_upright(encoded, HASH_SIZE), input_signature=[tf.TensorSpec([], tf.string)]
    )

    def phash(data: bytes) -> int | None:
        try:
            with native_stderr_quiet():  # libjpeg's warnings: ReadAndCheck already put them in notes.csv
                pixels = decode(tf.constant(data)).numpy()
        except tf.errors.OpError as e:  # checked as decodable already; never expected, never fatal
            logging.warning("near duplicates: no hash, the upright decode failed: %s", e)
            return None
        return int(str(imagehash.phash(Image.fromarray(pixels))), 16)

    return phash


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def bands(value: int, count: int = BANDS) -> list[tuple[int, int]]:
    """(band index, band bits) for `count` near-equal slices of the 64-bit hash."""
    edges = [HASH_BITS * i // count for i in range(count + 1)]
    return [(i, (value >> lo) & ((1 << (hi - lo)) - 1)) for i, (lo, hi) in enumerate(itertools.pairwise(edges))]


def bucket_pairs(members: list, threshold: int = THRESHOLD, cap: int = BUCKET_CAP) -> Iterable[tuple]:
    """Confirmed (a, b) pairs within one bucket of (uri, hash, ...) tuples, a before b by URI."""
    members = sorted(members)
    if len(members) > cap:
        logging.warning("near duplicates: a band bucket of %d photos, compared with its first only", len(members))
        pairs = ((members[0], other) for other in members[1:])
    else:
        pairs = ((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
    for a, b in pairs:
        if a[0] != b[0] and hamming(a[1], b[1]) <= threshold:
            yield a, b


def candidate_pairs(hashes: dict[str, int], threshold: int = THRESHOLD, count: int = BANDS) -> set[tuple[str, str]]:
    """The banding in plain Python (the Beam graph below does the same): confirmed URI pairs."""
    buckets: dict[tuple[int, int], list] = {}
    for uri, value in hashes.items():
        for band in bands(value, count):
            buckets.setdefault(band, []).append((uri, value))
    return {(a[0], b[0]) for members in buckets.values() for a, b in bucket_pairs(members, threshold)}


def _rep_order(photo: tuple) -> tuple[int, int, str]:
    """Representative first: the most bytes (photo[4], when given), then the shortest URI."""
    uri = photo[0]
    return -(photo[4] if len(photo) > 4 else 0), len(uri), uri


def build_groups(edges: Iterable[tuple]) -> dict[str, dict]:
    """Union-find over confirmed edges of (uri, hash, sha, label[, bytes]) photos ->
    uri -> {rep, rep_sha, label, distance, size, group}, for every member of a group (representatives too)."""
    parent: dict[str, str] = {}
    info: dict[str, tuple] = {}

    def find(uri: str) -> str:
        while parent[uri] != uri:
            parent[uri] = parent[parent[uri]]
            uri = parent[uri]
        return uri

    for a, b in edges:
        for photo in (a, b):
            info[photo[0]] = photo
            parent.setdefault(photo[0], photo[0])
        ra, rb = find(a[0]), find(b[0])
        if ra != rb:
            order = lambda uri: _rep_order(info[uri])  # noqa: E731
            parent[max(ra, rb, key=order)] = min(ra, rb, key=order)
    members: dict[str, list[str]] = {}
    for uri in parent:
        members.setdefault(find(uri), []).append(uri)
    groups = {}
    for index, rep in enumerate(sorted(members, key=lambda uri: _rep_order(info[uri])), start=1):
        rep_hash, rep_sha = info[rep][1], info[rep][2]
        for uri in members[rep]:
            value, label = info[uri][1], info[uri][3]
            groups[uri] = dict(
                rep=rep,
                rep_sha=rep_sha,
                label=label,
                distance=hamming(value, rep_hash),
                size=len(members[rep]),
                group=index,
            )
    return groups


def csv_rows(groups: dict[str, dict]) -> list[tuple]:
    """near_duplicates.csv: one row per member that is not its group's representative."""
    return [(uri, g["label"], g["group"], g["rep"], g["distance"]) for uri, g in groups.items() if uri != g["rep"]]


class HashPhotos(beam.DoFn):
    """(sha, uri, label, data) -> (uri, phash, sha, label, size in bytes): small, the bytes are dropped."""

    def setup(self):
        self.phash = perceptual_hasher()

    def process(self, record):
        sha, uri, label, data = record
        value = self.phash(data)
        if value is not None:
            yield uri, value, sha, label, len(data)


class FindGroups(beam.PTransform):
    """Distinct photos (sha, uri, label, data) -> one element: the groups dict (build_groups);
    also writes near_duplicates.csv to `out`."""

    def __init__(self, out: str):
        super().__init__()
        self.out = out

    def expand(self, records):
        groups = (
            records
            | "Hash" >> beam.ParDo(HashPhotos())
            | "ByBand" >> beam.FlatMap(lambda photo: ((band, photo) for band in bands(photo[1])))
            | "GroupByBand" >> beam.GroupByKey()
            | "ConfirmPairs" >> beam.FlatMap(lambda kv: bucket_pairs(list(kv[1])))
            | "Edges" >> beam.combiners.ToList()
            | "UnionFind" >> beam.Map(build_groups)
        )
        _ = groups | "Rows" >> beam.FlatMap(csv_rows) | "WriteCsv" >> report.WriteRows(f"{self.out}/{FILE}", HEADER)
        return groups


def split_unit(record, groups: dict) -> Iterable[tuple[str, tuple[str, int]]]:
    """(label, (sha, size)) for a photo that decides a split: a representative (its group's size)
    or a photo in no group (size 1). Other members follow their representative."""
    sha, uri, label, _ = record
    group = groups.get(uri)
    if group is None or group["rep"] == uri:
        yield label, (sha, group["size"] if group else 1)


def unit_sha(record, groups: dict) -> tuple[str, tuple]:
    """The record keyed by the content hash that decides its split (its representative's)."""
    group = groups.get(record[1])
    return (group["rep_sha"] if group else record[0]), record


def read_counts(out: str) -> dict[str, int]:
    """summary.json's near_duplicate_groups and near_duplicates, read back from near_duplicates.csv."""
    rows = list(csv.DictReader(io.StringIO(report.read_text(f"{out}/{FILE}"), newline="")))
    return {"near_duplicate_groups": len({r["kept_with"] for r in rows}), "near_duplicates": len(rows)}
