"""Gzipped TFRecord files written and read through Beam's FileSystems, for local paths and gs:// alike.

`tf.io.TFRecordWriter` / `tf.data.TFRecordDataset` go through TensorFlow's own GCS
client, which no emulator can stand in for (it ignores STORAGE_EMULATOR_HOST), so
`prepare`'s own files use Beam's TFRecord framing (`apache_beam.io.tfrecordio`: length,
masked CRC-32C of the length, data, masked CRC-32C of the data) over FileSystems, the
I/O layer the rest of `prepare` and batch `predict` already use. The files are ordinary
TFRecords: TFX, `tf.data` and TFDV read them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.tfrecordio import _TFRecordUtil


def write_records(path: str, records: Iterable[bytes]) -> None:
    with FileSystems.create(path, compression_type=CompressionTypes.GZIP) as f:
        for record in records:
            _TFRecordUtil.write_record(f, record)


def read_records(path: str) -> Iterator[bytes]:
    """Each record of one gzipped TFRecord file; a corrupt record raises (its CRC is checked)."""
    with FileSystems.open(path, compression_type=CompressionTypes.GZIP) as f:
        while (record := _TFRecordUtil.read_record(f)) is not None:
            yield record


def glob(pattern: str) -> list[str]:
    """The files matching a pattern (local or gs://), sorted."""
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
