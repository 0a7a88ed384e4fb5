"""Reads the gzipped tf.Example TFRecords `tastebud prepare` writes (and the pipeline copies), local or gs://."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from data.records import read_records
from preprocessing.contract import IMAGE_KEY, KEY_KEY, LABEL_KEY


def read_examples(files: list[str], limit: int | None = None) -> list[tuple[str, str, bytes]]:
    """(key, label, encoded image) for each example, in file order."""
    return list(itertools.islice(iter_examples(files), limit))


def iter_examples(files: list[str]) -> Iterator[tuple[str, str, bytes]]:
    """read_examples one example at a time, for sets too large to hold in memory."""
    for record in itertools.chain.from_iterable(read_records(path) for path in files):
        yield parse_example(record)


def parse_example(record: bytes) -> tuple[str, str, bytes]:
    """One serialized tf.Example -> (key, label, encoded image)."""
    from tensorflow.core.example.example_pb2 import Example

    feature = Example.FromString(record).features.feature
    return (
        feature[KEY_KEY].bytes_list.value[0].decode(),
        feature[LABEL_KEY].bytes_list.value[0].decode(),
        feature[IMAGE_KEY].bytes_list.value[0],
    )
