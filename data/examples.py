"""Reads the gzipped tf.Example TFRecords `tastebud prepare` writes (and the pipeline copies)."""

from __future__ import annotations


def read_examples(files: list[str], limit: int | None = None) -> list[tuple[str, str, bytes]]:
    """(key, label, encoded image) for each example, in file order."""
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if limit is not None:
        dataset = dataset.take(limit)
    rows = []
    for record in dataset:
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        rows.append(
            (
                feature["key"].bytes_list.value[0].decode(),
                feature["label"].bytes_list.value[0].decode(),
                feature["image"].bytes_list.value[0],
            )
        )
    return rows
