"""Reads the gzipped tf.Example TFRecords `tastebud prepare` writes (and the pipeline copies)."""

from __future__ import annotations

from preprocessing.features import IMAGE_KEY, KEY_KEY, LABEL_KEY


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
                feature[KEY_KEY].bytes_list.value[0].decode(),
                feature[LABEL_KEY].bytes_list.value[0].decode(),
                feature[IMAGE_KEY].bytes_list.value[0],
            )
        )
    return rows
